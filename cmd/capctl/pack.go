package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"oras.land/oras-go/v2/content/oci"

	"github.com/capcenter/capcenter/capabilities"
)

type packOptions struct {
	layout string
	output string
}

// packResult is what pack prints with -o json.
type packResult struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
	Layout    string `json:"layout"`
	Reference string `json:"reference"`
}

func newPackCmd(s streams) *cobra.Command {
	o := &packOptions{}
	cmd := &cobra.Command{
		Use:   "pack DIR",
		Short: "Pack a bundle into an OCI image layout folder",
		Long: `Pack validates the bundle, packs it as an OCI artifact into an OCI image
layout folder (created when missing), tags it with its version and prints the
manifest digest. The same bundle always packs to the same digest.`,
		Example: "  capctl pack ./webservice --layout ./out\n  oras manifest fetch --oci-layout ./out:1.0.0",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args[0])
		},
	}
	cmd.Flags().StringVar(&o.layout, "layout", "oci-layout", "the OCI image layout `folder` to pack into")
	cmd.Flags().StringVarP(&o.output, "output", "o", "digest", "output: digest or json")
	return cmd
}

func (o *packOptions) run(ctx context.Context, s streams, dir string) error {
	if err := checkFormat(o.output, "digest", formatJSON); err != nil {
		return err
	}
	b, err := capabilities.Load(ctx, dir, capabilities.Limits{})
	if err != nil {
		return bundleError(dir, err)
	}
	store, err := oci.New(o.layout)
	if err != nil {
		return fmt.Errorf("layout %s: %w", o.layout, err)
	}
	desc, err := capabilities.Pack(ctx, store, b)
	if err != nil {
		return fmt.Errorf("pack %s: %w", dir, err)
	}
	if err := store.Tag(ctx, desc, b.Metadata.Version); err != nil {
		return fmt.Errorf("tag %s: %w", b.Metadata.Version, err)
	}
	if o.output == formatJSON {
		return writeJSON(s.out, packResult{
			Name: b.Metadata.Name, Version: b.Metadata.Version, Digest: desc.Digest.String(),
			MediaType: desc.MediaType, Size: desc.Size, Layout: o.layout,
			Reference: o.layout + ":" + b.Metadata.Version,
		})
	}
	fmt.Fprintln(s.out, desc.Digest)
	return nil
}
