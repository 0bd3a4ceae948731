package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/signature"
	"github.com/capcenter/capcenter/client"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

type pullOptions struct {
	global     *globalOptions
	dir        string
	ociLayout  string
	force      bool
	skipVerify bool
}

func newPullCmd(s streams, g *globalOptions) *cobra.Command {
	o := &pullOptions{global: g}
	cmd := &cobra.Command{
		Use:   "pull NAME[@VERSION]",
		Short: "Download a verified bundle into a folder or an OCI layout",
		Long: `Pull resolves the version (the latest one that is not yanked when no version
is given) to its manifest digest once, verifies that digest's signatures
against your trust policy (see capctl trust), then downloads exactly that
digest, checks the manifest and every file against their digests, validates
the bundle and writes it. Nothing is written unless all of that succeeds.

It writes a bundle folder, refusing one that already has files unless
--force, which first removes the bundle files the folder holds
(capability.yaml, template.cue, README.md, manifests/ and examples/) and
leaves anything else. With --oci-layout it writes the OCI artifact and its
signatures into an OCI image layout instead, tagged with the version, for
notation, oras or crane.`,
		Example: "  capctl pull webservice\n  capctl pull acme/gateway@1.4.0 --dir ./gateway\n  capctl pull webservice@1.0.0 --oci-layout ./layout",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args[0])
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", "", "the `folder` to write (default ./<name without namespace>)")
	cmd.Flags().StringVar(&o.ociLayout, "oci-layout", "", "write an OCI image layout `folder` instead of a bundle folder")
	cmd.Flags().BoolVar(&o.force, "force", false, "replace the bundle files of a folder that is not empty")
	cmd.Flags().BoolVar(&o.skipVerify, "insecure-skip-verify", false, "do NOT verify signatures (digests are still checked)")
	return cmd
}

func (o *pullOptions) run(ctx context.Context, s streams, ref string) error {
	name, version, err := client.ParseRef(ref)
	if err != nil {
		return err
	}
	if o.ociLayout != "" && (o.dir != "" || o.force) {
		return errors.New("--oci-layout does not go with --dir or --force")
	}
	dir := o.dir
	if dir == "" {
		dir = capabilities.ShortName(name)
	}
	switch {
	case o.ociLayout != "":
		if err := ensureLayoutTarget(o.ociLayout); err != nil {
			return err
		}
	case !o.force:
		if err := ensureEmpty(dir); err != nil {
			return fmt.Errorf("%w, or replace its bundle with --force", err)
		}
	}
	var policy *signature.Policy
	if !o.skipVerify {
		if policy, err = o.global.policy(); err != nil {
			return err
		}
	}
	c, err := o.global.dial(s)
	if err != nil {
		return err
	}
	defer c.Close()
	var p *client.Pulled
	var sigs []*capcenterv1.Signature
	if o.skipVerify {
		fmt.Fprintf(s.err, "WARNING: --insecure-skip-verify: the signatures of %s are NOT verified.\n"+
			"WARNING: its bytes are checked against the digests the registry states, nothing more:\n"+
			"WARNING: whoever controls the registry or its storage controls what you get.\n", ref)
		if p, err = c.Pull(ctx, name, version, capabilities.Limits{}); err != nil {
			return err
		}
		if o.ociLayout != "" {
			signed, err := c.Signatures(ctx, name, p.Version.GetVersion())
			if err != nil {
				return err
			}
			if signed.Manifest.Digest != p.Manifest.Digest {
				return fmt.Errorf("%s: %w: its signatures are for %s, the pull got %s", ref, client.ErrDigestMismatch, signed.Manifest.Digest, p.Manifest.Digest)
			}
			sigs = signed.Signatures
		}
	} else {
		if p, err = c.PullVerified(ctx, name, version, policy, capabilities.Limits{}); err != nil {
			return err
		}
		sigs = p.Verification.Signatures
	}
	pulled := client.Ref(p.Version.GetCapability(), p.Version.GetVersion())
	if o.ociLayout != "" {
		if err := writeLayout(ctx, o.ociLayout, p, sigs); err != nil {
			return fmt.Errorf("--oci-layout %s: %w", o.ociLayout, err)
		}
		fmt.Fprintf(s.out, "Pulled %s (%s) and %d signature(s) into the OCI layout %s, tag %s\n", pulled, p.Manifest.Digest, len(sigs), o.ociLayout, p.Version.GetVersion())
		return nil
	}
	if o.force {
		if err := removeBundleFiles(dir); err != nil {
			return err
		}
	}
	if err := capabilities.WriteDir(dir, p.Bundle); err != nil {
		return err
	}
	verdict := ""
	if v := p.Verification; v != nil {
		verdict = fmt.Sprintf(", signatures verified under trust rule %q", v.Result.Rule)
	}
	fmt.Fprintf(s.out, "Pulled %s (%s) into %s%s\n", pulled, p.Manifest.Digest, dir, verdict)
	return nil
}

// ensureLayoutTarget accepts a folder that does not exist, is empty, or is
// already an OCI image layout.
func ensureLayoutTarget(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, ocispec.ImageLayoutFile)); err == nil {
		return nil
	}
	if err := ensureEmpty(dir); err != nil {
		return fmt.Errorf("--oci-layout %s is neither empty nor an OCI image layout", dir)
	}
	return nil
}

// writeLayout copies a pulled artifact and its signature manifests into
// the OCI image layout dir, tagging the artifact with its version.
func writeLayout(ctx context.Context, dir string, p *client.Pulled, sigs []*capcenterv1.Signature) error {
	dst, err := oci.New(dir)
	if err != nil {
		return err
	}
	if err := oras.CopyGraph(ctx, p.Content, dst, p.Manifest, oras.DefaultCopyGraphOptions); err != nil {
		return err
	}
	if err := dst.Tag(ctx, p.Manifest, p.Version.GetVersion()); err != nil {
		return err
	}
	empty := []byte("{}")
	for _, sig := range sigs {
		var m ocispec.Manifest
		if err := json.Unmarshal(sig.GetManifest(), &m); err != nil {
			return fmt.Errorf("signature %s: %w", sig.GetDigest(), err)
		}
		if m.Config.Digest != digest.FromBytes(empty) || len(m.Layers) != 1 {
			return fmt.Errorf("signature %s: not a Notary Project signature manifest (config %s, %d layers)", sig.GetDigest(), m.Config.Digest, len(m.Layers))
		}
		desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest(sig.GetDigest()), Size: int64(len(sig.GetManifest())), ArtifactType: m.ArtifactType}
		// The client checked that the manifest hashes to its digest and that
		// its one layer is the envelope.
		for _, b := range []struct {
			d    ocispec.Descriptor
			data []byte
		}{{m.Config, empty}, {m.Layers[0], sig.GetEnvelope()}, {desc, sig.GetManifest()}} {
			if err := dst.Push(ctx, b.d, bytes.NewReader(b.data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
				return err
			}
		}
	}
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
