package main

import (
	"context"

	"github.com/spf13/cobra"
)

type versionsOptions struct {
	global *globalOptions
	output string
}

func newVersionsCmd(s streams, g *globalOptions) *cobra.Command {
	o := &versionsOptions{global: g}
	cmd := &cobra.Command{
		Use:     "versions NAME",
		Short:   "List a capability's versions, newest first",
		Long:    `Versions lists every published version of a capability with its digest, when it was published and whether it is yanked or deprecated.`,
		Example: "  capctl versions webservice",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args[0])
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", formatTable, "output format: table, json or yaml")
	return cmd
}

func (o *versionsOptions) run(ctx context.Context, s streams, name string) error {
	if err := checkFormat(o.output, formatTable, formatJSON, formatYAML); err != nil {
		return err
	}
	c, err := o.global.dial(s)
	if err != nil {
		return err
	}
	defer c.Close()
	vs, err := c.ListVersions(ctx, name)
	if err != nil {
		return err
	}
	if o.output != formatTable {
		return writeProtoList(s, o.output, vs)
	}
	t := newTable(s.out, "VERSION", "DIGEST", "CREATED", "STATE")
	for _, v := range vs {
		t.row(v.GetVersion(), shortDigest(v.GetDigest()), formatTime(v.GetCreateTime()), versionState(v))
	}
	return t.flush()
}
