package server

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc/codes"
	"oras.land/oras-go/v2/content"

	"github.com/capcenter/capcenter/capabilities/signature"
	"github.com/capcenter/capcenter/server/auth"
	"github.com/capcenter/capcenter/server/registry"
	"github.com/capcenter/capcenter/store"
)

// The Server takes the catalog's manifests pushed through /v2/.
var _ registry.Publisher = (*Server)(nil)

// maxReferrers bounds what one version carries in all (signatures and
// other referrers pushed through /v2/, such as SBOMs).
const maxReferrers = 2 * MaxSignatures

// PublishManifest publishes a bundle pushed through the distribution API,
// with the checks and signing of PublishBundle: the manifest's limits,
// validation, canonical packing. The bundle must be pushed to the
// repository of its name and tagged, if at all, with its version
// (store.Tag). It fails as PublishBundle does, with InvalidArgument for
// another repository or tag; errors are status errors, logged as calls.
func (s *Server) PublishManifest(ctx context.Context, repo, tag string, staging content.Storage, desc ocispec.Descriptor) (err error) {
	start := time.Now()
	defer func() { err = s.finish(ctx, "/v2/PublishManifest", start, err) }()
	release, err := s.publishSlot()
	if err != nil {
		return err
	}
	defer release()
	raw, err := content.FetchAll(ctx, staging, desc)
	if err != nil {
		return err
	}
	if _, _, err := s.parseManifest(raw); err != nil {
		return err
	}
	v, err := s.validate(ctx, staging, desc)
	if err != nil {
		return err
	}
	switch {
	case v.Name != repo:
		return statusError(codes.InvalidArgument, "the bundle is %s@%s: push it to repository %s, not %s", v.Name, v.Version, v.Name, repo)
	case tag != "" && tag != store.Tag(v.Version):
		return statusError(codes.InvalidArgument, "tag %q: the bundle is version %s, so its tag is %s", tag, v.Version, store.Tag(v.Version))
	}
	_, _, err = s.publishValid(ctx, staging, desc, v)
	return err
}

// AttachReferrer adds a manifest pushed through the distribution API whose
// subject is a bundle to that bundle's version. A Notary Project signature
// is inspected as AddSignature does (intact, signing exactly the bundle's
// manifest; one per signing certificate; MaxSignatures); other referrers
// count against maxReferrers. It fails with InvalidArgument for a
// signature Inspect rejects or a manifest that is no referrer, NotFound
// when the subject is not a version in repo, AlreadyExists when the
// certificate signed the version already, and ResourceExhausted past the
// limits.
func (s *Server) AttachReferrer(ctx context.Context, repo string, staging content.Storage, desc ocispec.Descriptor) (err error) {
	start := time.Now()
	defer func() { err = s.finish(ctx, "/v2/AttachReferrer", start, err) }()
	raw, err := content.FetchAll(ctx, staging, desc)
	if err != nil {
		return err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil || m.Subject == nil {
		return statusError(codes.InvalidArgument, "manifest %s: not an image manifest with a subject", desc.Digest)
	}
	v, subject, err := s.versionOfManifest(ctx, repo, m.Subject.Digest)
	if err != nil {
		return err
	}
	if m.ArtifactType == signature.ArtifactType || m.Config.MediaType == signature.ArtifactType {
		if err := s.checkPushedSignature(ctx, staging, v, &m, subject); err != nil {
			return err
		}
	} else if len(v.Referrers) >= maxReferrers {
		return statusError(codes.ResourceExhausted, "%s@%s already has %d referrers, the most a version may carry", v.Name, v.Version, maxReferrers)
	}
	if _, err := s.store.AddReferrer(ctx, v.Name, v.Version, desc, staging); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "referrer added", "capability", v.Name, "version", v.Version,
		"referrer", desc.Digest, "artifactType", m.ArtifactType)
	return nil
}

// checkPushedSignature inspects a signature manifest m pushed for version
// v, whose manifest is subject.
func (s *Server) checkPushedSignature(ctx context.Context, staging content.Fetcher, v store.Version, m *ocispec.Manifest, subject ocispec.Descriptor) error {
	if len(m.Layers) != 1 {
		return statusError(codes.InvalidArgument, "signature: %d layers, want one envelope", len(m.Layers))
	}
	layer := m.Layers[0]
	if layer.Size > signature.MaxEnvelopeSize {
		return statusError(codes.InvalidArgument, "signature: envelope of %d bytes, more than %d", layer.Size, signature.MaxEnvelopeSize)
	}
	envelope, err := content.FetchAll(ctx, staging, layer)
	if err != nil {
		return err
	}
	info, err := signature.Inspect(layer.MediaType, envelope, subject)
	if err == nil {
		err = info.Current(time.Now())
	}
	if err != nil {
		return statusError(codes.InvalidArgument, "signature: %s@%s: %v", v.Name, v.Version, err)
	}
	for _, sig := range signaturesToProto(v.Referrers) {
		if sig.GetFingerprint() == info.Fingerprint {
			return statusError(codes.AlreadyExists, "%s@%s is signed by certificate %s already (signature %s)", v.Name, v.Version, info.Fingerprint, sig.GetDigest())
		}
	}
	if countSignatures(v) >= MaxSignatures {
		return statusError(codes.ResourceExhausted, "%s@%s already has %d signatures, the most a version may carry", v.Name, v.Version, MaxSignatures)
	}
	return nil
}

// DeleteVersion removes a capability version named by its tag or its
// manifest digest through the distribution API. Deleting is an admin's
// act: with tokens it needs the admin scope (PermissionDenied otherwise);
// without them it is PermissionDenied unless Config.AllowDelete is set.
// It fails with NotFound for no such version and InvalidArgument for
// "latest".
func (s *Server) DeleteVersion(ctx context.Context, repo, reference string) (err error) {
	start := time.Now()
	defer func() { err = s.finish(ctx, "/v2/DeleteVersion", start, err) }()
	switch {
	case s.tokens != nil:
		if err := s.allow(ctx, auth.NeedAdmin()); err != nil {
			return fmt.Errorf("delete %s:%s: %w", repo, reference, err)
		}
	case !s.allowDelete:
		return statusError(codes.PermissionDenied, "%s:%s: deleting capability versions is off; the operator starts capd with --allow-delete to allow it (yank a version instead)", repo, reference)
	}
	version := store.VersionOfTag(reference)
	if d, perr := digest.Parse(reference); perr == nil {
		v, _, err := s.versionOfManifest(ctx, repo, d)
		if err != nil {
			return err
		}
		version = v.Version
	} else if reference == "latest" {
		return statusError(codes.InvalidArgument, "%s:latest moves with every publish; delete a version", repo)
	}
	repos, ok := s.store.(store.Repositories)
	if !ok {
		return statusError(codes.Unimplemented, "this store cannot delete versions")
	}
	if err := repos.DeleteVersion(ctx, repo, version); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "version deleted", "capability", repo, "version", version)
	return nil
}

// versionOfManifest finds the version of repo whose bundle manifest is
// dgst, by the version annotation the manifest carries (checked against
// the index), and describes that manifest. It fails with NotFound.
func (s *Server) versionOfManifest(ctx context.Context, repo string, dgst digest.Digest) (store.Version, ocispec.Descriptor, error) {
	raw, m, err := s.fetchManifest(ctx, dgst.String())
	if err != nil {
		return store.Version{}, ocispec.Descriptor{}, err
	}
	version := m.Annotations[ocispec.AnnotationVersion]
	v, err := s.store.GetVersion(ctx, repo, version)
	if err != nil || v.Digest != dgst.String() || version == "" || version == "latest" {
		return store.Version{}, ocispec.Descriptor{}, fmt.Errorf("%s@%s: no version of %s has this manifest: %w", repo, dgst, repo, store.ErrNotFound)
	}
	return v, manifestDescriptor(raw), nil
}
