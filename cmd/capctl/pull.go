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
	"github.com/capcenter/capcenter/client"
)

type pullOptions struct {
	global *globalOptions
	dir    string
	force  bool
}

func newPullCmd(s streams, g *globalOptions) *cobra.Command {
	o := &pullOptions{global: g}
	cmd := &cobra.Command{
		Use:   "pull NAME[@VERSION]",
		Short: "Download a bundle into a folder, verifying every digest",
		Long: `Pull downloads a version (the latest one that is not yanked when no
version is given), verifies the manifest and every file against their
digests, validates the bundle and writes it as a bundle folder. It refuses a
folder that already has files unless --force, which first removes the bundle
files the folder holds (capability.yaml, template.cue, README.md,
manifests/ and examples/) and leaves anything else.`,
		Example: "  capctl pull webservice\n  capctl pull acme/gateway@1.4.0 --dir ./gateway",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args[0])
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", "", "the `folder` to write (default ./<name without namespace>)")
	cmd.Flags().BoolVar(&o.force, "force", false, "replace the bundle files of a folder that is not empty")
	return cmd
}

func (o *pullOptions) run(ctx context.Context, s streams, ref string) error {
	name, version, err := client.ParseRef(ref)
	if err != nil {
		return err
	}
	dir := o.dir
	if dir == "" {
		dir = capabilities.ShortName(name)
	}
	if !o.force {
		if err := ensureEmpty(dir); err != nil {
			return fmt.Errorf("%w, or replace its bundle with --force", err)
		}
	}
	c, err := o.global.dial(s)
	if err != nil {
		return err
	}
	defer c.Close()
	p, err := c.Pull(ctx, name, version, capabilities.Limits{})
	if err != nil {
		return err
	}
	if o.force {
		if err := removeBundleFiles(dir); err != nil {
			return err
		}
	}
	if err := capabilities.WriteDir(dir, p.Bundle); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "Pulled %s (%s) into %s\n", client.Ref(p.Version.GetCapability(), p.Version.GetVersion()), p.Manifest.Digest, dir)
	return nil
}

// removeBundleFiles removes what a bundle folder holds from dir, so that
// files of an older bundle do not mix with the new one.
func removeBundleFiles(dir string) error {
	for _, name := range []string{capabilities.MetadataFile, capabilities.TemplateFile, capabilities.ReadmeFile, capabilities.ManifestsDir, capabilities.ExamplesDir} {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
