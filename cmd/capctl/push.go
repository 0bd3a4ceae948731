package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/client"
)

type pushOptions struct {
	global *globalOptions
	output string
}

// pushResult is one pushed bundle, as -o json prints it.
type pushResult struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
	Created bool   `json:"created"`
}

func newPushCmd(s streams, g *globalOptions) *cobra.Command {
	o := &pushOptions{global: g}
	cmd := &cobra.Command{
		Use:   "push DIR...",
		Short: "Validate, pack and publish bundle folders",
		Long: `Push loads and validates each bundle folder as lint does, packs it and
publishes it to the registry. Each line says the version, its digest and
"published", or "unchanged" when the registry already holds identical
content under that version. Versions are immutable: other content under a
published version is refused. Folders are pushed in order and push stops at
the first failure, so push dependencies first.`,
		Example: "  capctl push ./webservice\n  capctl push --server capd.example.com:9460 ./oam-definitions ./webservice",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", formatTable, "output format: table or json")
	return cmd
}

func (o *pushOptions) run(ctx context.Context, s streams, dirs []string) error {
	if err := checkFormat(o.output, formatTable, formatJSON); err != nil {
		return err
	}
	c, err := o.global.dial(s)
	if err != nil {
		return err
	}
	defer c.Close()
	var results []pushResult
	for _, dir := range dirs {
		r, err := push(ctx, c, dir)
		if err != nil {
			return err
		}
		if o.output == formatTable {
			fmt.Fprintf(s.out, "%s\t%s\t%s\n", client.Ref(r.Name, r.Version), r.Digest, verdict(r.Created))
		}
		results = append(results, r)
	}
	if o.output == formatJSON {
		return writeJSON(s.out, results)
	}
	return nil
}

// push publishes one bundle folder.
func push(ctx context.Context, c *client.Client, dir string) (pushResult, error) {
	b, err := capabilities.Load(ctx, dir, capabilities.Limits{})
	if err != nil {
		return pushResult{}, bundleError(dir, err)
	}
	v, created, err := c.Publish(ctx, b)
	if err != nil {
		return pushResult{}, err
	}
	return pushResult{Name: v.GetCapability(), Version: v.GetVersion(), Digest: v.GetDigest(), Created: created}, nil
}

func verdict(created bool) string {
	if created {
		return "published"
	}
	return "unchanged"
}
