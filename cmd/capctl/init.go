package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/capcenter/capcenter/capabilities"
)

type initOptions struct {
	kind string
	dir  string
}

func newInitCmd(s streams) *cobra.Command {
	o := &initOptions{}
	cmd := &cobra.Command{
		Use:   "init NAME",
		Short: "Scaffold a new bundle folder",
		Long: `Init writes a bundle that lints and renders as it is: capability.yaml, a
template.cue of the chosen kind, a README and an example (a controller
bundle gets a manifest instead of a template). It refuses a folder that
already has files.`,
		Example: "  capctl init acme/web-api\n  capctl init autoscale --kind trait --dir ./autoscale",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args[0])
		},
	}
	cmd.Flags().StringVar(&o.kind, "kind", string(capabilities.KindComponent), "component, trait, policy or controller")
	cmd.Flags().StringVar(&o.dir, "dir", "", "the `folder` to write (default ./<name without namespace>)")
	return cmd
}

func (o *initOptions) run(ctx context.Context, s streams, name string) error {
	if err := capabilities.ValidateName(name); err != nil {
		return err
	}
	b, err := scaffold(name, capabilities.Kind(o.kind))
	if err != nil {
		return err
	}
	dir := o.dir
	if dir == "" {
		dir = capabilities.ShortName(name)
	}
	if err := ensureEmpty(dir); err != nil {
		return err
	}
	if err := capabilities.WriteDir(dir, b); err != nil {
		return err
	}
	if _, err := capabilities.Load(ctx, dir, capabilities.Limits{}); err != nil {
		return fmt.Errorf("the scaffold does not lint, please report this: %w", bundleError(dir, err))
	}
	fmt.Fprintf(s.out, "Created %s bundle %s in %s\nNext: edit %s, then run\n  capctl lint %s\n",
		o.kind, name, dir, filepath.Join(dir, scaffoldMainFile(b)), dir)
	if b.Template != nil {
		fmt.Fprintf(s.out, "  capctl render %s --example basic\n", dir)
	}
	return nil
}

func scaffoldMainFile(b *capabilities.Bundle) string {
	if b.Template != nil {
		return capabilities.TemplateFile
	}
	return b.Manifests[0].Name
}

// ensureEmpty fails when dir exists and holds anything.
func ensureEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty: choose another --dir", dir)
	}
	return nil
}
