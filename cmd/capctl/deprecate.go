package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/capcenter/capcenter/client"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

type deprecateOptions struct {
	global  *globalOptions
	message string
	undo    bool
}

func newDeprecateCmd(s streams, g *globalOptions) *cobra.Command {
	o := &deprecateOptions{global: g}
	cmd := &cobra.Command{
		Use:   "deprecate NAME@VERSION",
		Short: "Mark a version deprecated, or lift it with --undo",
		Long: `Deprecate marks a version as one to move away from; it stays installable.
--message says what to use instead, and is shown wherever the version is.`,
		Example: "  capctl deprecate worker@1.0.0 --message 'use worker 2.x'\n  capctl deprecate worker@1.0.0 --undo",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args[0])
		},
	}
	cmd.Flags().StringVar(&o.message, "message", "", "what to use instead")
	cmd.Flags().BoolVar(&o.undo, "undo", false, "lift an earlier deprecation")
	return cmd
}

func (o *deprecateOptions) run(ctx context.Context, s streams, ref string) error {
	name, version, err := parseExactRef(ref)
	if err != nil {
		return err
	}
	if o.undo && o.message != "" {
		return fmt.Errorf("--message does not go with --undo")
	}
	c, err := o.global.dial(s)
	if err != nil {
		return err
	}
	defer c.Close()
	var v *capcenterv1.Version
	if o.undo {
		v, err = c.Undeprecate(ctx, name, version)
	} else {
		v, err = c.Deprecate(ctx, name, version, o.message)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "%s: %s\n", client.Ref(v.GetCapability(), v.GetVersion()), versionState(v))
	return nil
}
