package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/capcenter/capcenter/client"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

type yankOptions struct {
	global *globalOptions
	reason string
	undo   bool
}

func newYankCmd(s streams, g *globalOptions) *cobra.Command {
	o := &yankOptions{global: g}
	cmd := &cobra.Command{
		Use:   "yank NAME@VERSION",
		Short: "Mark a version yanked, or lift a yank with --undo",
		Long: `Yank marks a version as one nobody should start using: it stays pullable by
its exact version, so installs pinned to it keep working, but "latest" and
resolvers skip it. --reason tells those who still pin it why.`,
		Example: "  capctl yank webservice@1.0.1 --reason 'breaks Services with named ports'\n  capctl yank webservice@1.0.1 --undo",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args[0])
		},
	}
	cmd.Flags().StringVar(&o.reason, "reason", "", "why the version is yanked")
	cmd.Flags().BoolVar(&o.undo, "undo", false, "lift an earlier yank")
	return cmd
}

func (o *yankOptions) run(ctx context.Context, s streams, ref string) error {
	name, version, err := parseExactRef(ref)
	if err != nil {
		return err
	}
	if o.undo && o.reason != "" {
		return fmt.Errorf("--reason does not go with --undo")
	}
	c, err := o.global.dial(s)
	if err != nil {
		return err
	}
	defer c.Close()
	var v *capcenterv1.Version
	if o.undo {
		v, err = c.Unyank(ctx, name, version)
	} else {
		v, err = c.Yank(ctx, name, version, o.reason)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "%s: %s\n", client.Ref(v.GetCapability(), v.GetVersion()), versionState(v))
	return nil
}
