package server

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/errdef"

	"github.com/capcenter/capcenter/capabilities"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
	"github.com/capcenter/capcenter/store"
)

// PublishBundle receives a bundle as doc.go describes, validates it and
// stores it. It fails with InvalidArgument for a malformed stream, manifest
// or bundle (listing every problem), a stream that ends early, or content
// that is not the canonical packing of its bundle; ResourceExhausted as
// soon as the bundle is known to be over a limit or the stream carries
// more bytes than its manifest declares; AlreadyExists for other content
// under a published version. With tokens, it fails with Unauthenticated
// for an anonymous caller as soon as the header arrives, and with
// PermissionDenied unless the caller may publish the name the manifest
// annotates (org.opencontainers.image.title), before any chunk is read.
// Nothing is stored unless it succeeds.
func (s *Server) PublishBundle(stream capcenterv1.CapabilityService_PublishBundleServer) error {
	ctx := stream.Context()
	release, err := s.publishSlot()
	if err != nil {
		return err
	}
	defer release()
	first, err := stream.Recv()
	if err != nil {
		return recvError(err)
	}
	header := first.GetHeader()
	if err := s.allowPublish(ctx, ""); err != nil {
		return err
	}
	if header == nil {
		return statusError(codes.InvalidArgument, "header: the first message of a publish stream must be a header")
	}
	manifest, desc, err := s.parseManifest(header.GetManifest())
	if err != nil {
		return err
	}
	name, err := s.allowPublishManifest(ctx, manifest)
	if err != nil {
		return err
	}
	staging := memory.New()
	if err := staging.Push(ctx, desc, bytes.NewReader(header.GetManifest())); err != nil {
		return fmt.Errorf("publish %s: stage manifest: %w", desc.Digest, err)
	}
	chunks := &chunkReader{next: func() ([]byte, error) {
		msg, err := stream.Recv()
		if err != nil {
			return nil, err // io.EOF becomes io.ErrUnexpectedEOF inside a blob
		}
		if msg.GetHeader() != nil {
			return nil, statusError(codes.InvalidArgument, "chunk: a publish stream has one header, at its start")
		}
		return msg.GetChunk(), nil
	}}
	if err := receiveBlobs(ctx, staging, chunks, manifest); err != nil {
		return err
	}
	v, err := s.validate(ctx, staging, desc)
	if err != nil {
		return err
	}
	if name != "" && v.Name != name { // the canonical packing rules this out
		return statusError(codes.InvalidArgument, "header.manifest: annotation %s is %q, the bundle is %s", ocispec.AnnotationTitle, name, v.Name)
	}
	stored, created, err := s.publishValid(ctx, staging, desc, v)
	if err != nil {
		return err
	}
	pv, err := versionToProto(stored)
	if err != nil {
		return err
	}
	return stream.SendAndClose(&capcenterv1.PublishBundleResponse{Version: pv, Created: created})
}

// Publish validates the bundle whose manifest desc is staged, with all its
// blobs, in staging, signs it, and stores it with its signature, as
// PublishBundle does once it has received a bundle; capd also seeds its
// built-in bundles through it. Publishing the same content again returns
// the stored version with created false, signing it first if it has no
// server signature yet. It fails as PublishBundle does, and when signing
// fails.
func (s *Server) Publish(ctx context.Context, staging content.Storage, desc ocispec.Descriptor) (v store.Version, created bool, err error) {
	if v, err = s.validate(ctx, staging, desc); err != nil {
		return v, false, err
	}
	return s.publishValid(ctx, staging, desc, v)
}

// publishValid signs and stores a validated bundle described by v.
func (s *Server) publishValid(ctx context.Context, staging content.Storage, desc ocispec.Descriptor, v store.Version) (store.Version, bool, error) {
	sig, err := s.signStaged(ctx, staging, desc)
	if err != nil {
		return v, false, err
	}
	v, created, err := s.store.Publish(ctx, store.Publication{
		Manifest: desc, Content: staging, Version: v, Referrers: []ocispec.Descriptor{sig},
	})
	if err != nil {
		return v, false, err
	}
	if !created {
		if v, err = s.backfillSignature(ctx, v, desc); err != nil {
			return v, false, err
		}
	}
	s.log.InfoContext(ctx, "published", "capability", v.Name, "version", v.Version,
		"digest", v.Digest, "created", created)
	return v, created, nil
}

// allowPublishManifest checks, with tokens, that the caller may publish
// the capability a publish header's manifest names in its title
// annotation, and returns that name; without tokens it returns "". It
// fails with InvalidArgument when the annotation is no capability name.
func (s *Server) allowPublishManifest(ctx context.Context, m *ocispec.Manifest) (string, error) {
	if s.tokens == nil {
		return "", nil
	}
	name := m.Annotations[ocispec.AnnotationTitle]
	if err := capabilities.ValidateName(name); err != nil {
		return "", statusError(codes.InvalidArgument, "header.manifest: annotation %s: %v", ocispec.AnnotationTitle, err)
	}
	return name, s.allowPublish(ctx, name)
}

// publishRetry is the delay a publish refused for want of a slot suggests.
const publishRetry = time.Second

// publishSlot takes one of the Config.MaxConcurrentPublishes slots, or
// fails at once with ResourceExhausted carrying a RetryInfo. The caller
// calls release when its publish is over.
func (s *Server) publishSlot() (release func(), err error) {
	if !s.publishes.tryAcquire() {
		st := status.Newf(codes.ResourceExhausted, "%d publishes are in flight, the most this server takes at once; retry in %s", cap(s.publishes), publishRetry)
		if detailed, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(publishRetry)}); derr == nil {
			st = detailed
		}
		return nil, st.Err()
	}
	return s.publishes.release, nil
}

// recvError turns io.EOF in the middle of a stream into a complaint: the
// client closed the stream before sending all it declared.
func recvError(err error) error {
	if errors.Is(err, io.EOF) {
		return statusError(codes.InvalidArgument, "stream: ended before the bundle was complete; nothing was published")
	}
	return err
}

// parseManifest decodes and checks a publish header's manifest before any
// content is read: an OCI image manifest of the capability artifact type,
// with well-formed descriptors whose sizes are within the limits.
func (s *Server) parseManifest(data []byte) (*ocispec.Manifest, ocispec.Descriptor, error) {
	if len(data) > DefaultMaxManifestSize {
		return nil, ocispec.Descriptor{}, fmt.Errorf("header.manifest: %d bytes, more than %d: %w", len(data), DefaultMaxManifestSize, capabilities.ErrTooLarge)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, ocispec.Descriptor{}, statusError(codes.InvalidArgument, "header.manifest: not an OCI image manifest: %v", err)
	}
	switch {
	case m.MediaType != ocispec.MediaTypeImageManifest:
		return nil, ocispec.Descriptor{}, statusError(codes.InvalidArgument, "header.manifest: mediaType %q is not %s", m.MediaType, ocispec.MediaTypeImageManifest)
	case m.ArtifactType != capabilities.ArtifactType:
		return nil, ocispec.Descriptor{}, statusError(codes.InvalidArgument, "header.manifest: artifactType %q is not %s", m.ArtifactType, capabilities.ArtifactType)
	case len(m.Layers) > s.limits.MaxFiles:
		return nil, ocispec.Descriptor{}, fmt.Errorf("header.manifest: %d layers, more than %d: %w", len(m.Layers), s.limits.MaxFiles, capabilities.ErrTooLarge)
	}
	total := int64(0)
	for i, d := range blobs(&m) {
		if err := d.Digest.Validate(); err != nil || d.Digest.Algorithm() != digest.SHA256 {
			return nil, ocispec.Descriptor{}, statusError(codes.InvalidArgument, "header.manifest: blob %d: digest %q is not sha256:<hex>", i, d.Digest)
		}
		if d.Size < 0 {
			return nil, ocispec.Descriptor{}, statusError(codes.InvalidArgument, "header.manifest: blob %d: negative size %d", i, d.Size)
		}
		if d.Size > s.limits.MaxFileSize {
			return nil, ocispec.Descriptor{}, fmt.Errorf("header.manifest: blob %d (%s): %d bytes, more than %d: %w", i, d.Digest, d.Size, s.limits.MaxFileSize, capabilities.ErrTooLarge)
		}
		total += d.Size
		if total > s.limits.MaxBundleSize {
			return nil, ocispec.Descriptor{}, fmt.Errorf("header.manifest: bundle of more than %d bytes: %w", s.limits.MaxBundleSize, capabilities.ErrTooLarge)
		}
	}
	return &m, content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, data), nil
}

// blobs returns the config then the layers of m: the order their bytes
// travel in a publish or pull stream.
func blobs(m *ocispec.Manifest) []ocispec.Descriptor {
	return append([]ocispec.Descriptor{m.Config}, m.Layers...)
}

// receiveBlobs reads every blob of m from r into staging, verifying each
// one's size and digest as it completes, then requires the end of the
// stream. It fails with InvalidArgument for a blob whose bytes do not match
// its descriptor, and with ResourceExhausted at the first byte beyond the
// declared ones.
func receiveBlobs(ctx context.Context, staging content.Storage, r *chunkReader, m *ocispec.Manifest) error {
	for i, d := range blobs(m) {
		data, err := content.ReadAll(io.LimitReader(r, d.Size), d)
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF):
			return statusError(codes.InvalidArgument, "stream: ended inside blob %d (%s) after %d bytes in all; nothing was published", i, d.Digest, r.read)
		case errors.Is(err, content.ErrMismatchedDigest):
			return statusError(codes.InvalidArgument, "stream: blob %d: the bytes sent do not match digest %s", i, d.Digest)
		case err != nil:
			// A status error from the stream (a second header, say) is
			// the answer as it is, not text inside another one.
			var se interface{ GRPCStatus() *status.Status }
			if errors.As(err, &se) {
				return se.GRPCStatus().Err()
			}
			return fmt.Errorf("stream: blob %d: %w", i, err)
		}
		err = staging.Push(ctx, d, bytes.NewReader(data))
		if err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
			return fmt.Errorf("stage %s: %w", d.Digest, err)
		}
	}
	var one [1]byte
	switch n, err := r.Read(one[:]); {
	case n > 0:
		return fmt.Errorf("stream: more bytes than the %d the manifest declares: %w", r.read-1, capabilities.ErrTooLarge)
	case err == nil || errors.Is(err, io.EOF):
		return nil
	default:
		return err
	}
}

// validate unpacks the staged bundle, checks that it is the canonical
// packing of its content, and describes it for the catalog.
func (s *Server) validate(ctx context.Context, staging content.Fetcher, desc ocispec.Descriptor) (store.Version, error) {
	if err := s.evals.acquire(ctx); err != nil {
		return store.Version{}, err
	}
	defer s.evals.release()
	b, err := capabilities.Unpack(ctx, staging, desc, s.limits)
	if err != nil {
		return store.Version{}, err
	}
	canonical := memory.New()
	repacked, err := capabilities.Pack(ctx, canonical, b)
	if err != nil {
		return store.Version{}, err
	}
	if repacked.Digest != desc.Digest {
		return store.Version{}, statusError(codes.InvalidArgument,
			"header.manifest: %s is not the canonical packing of this bundle (%s)%s: pack bundles with capctl or capabilities.Pack",
			desc.Digest, repacked.Digest, configDifference(ctx, staging, desc, canonical, repacked))
	}
	return describeBundle(ctx, staging, desc, b)
}

// configDifference names, as ": the config …", the first field in which
// the config of the manifest got differs from the config of the canonical
// packing want, or returns "" when the configs agree or cannot be read
// (the caller's message stands on its own then).
func configDifference(ctx context.Context, gotSrc content.Fetcher, got ocispec.Descriptor, wantSrc content.Fetcher, want ocispec.Descriptor) string {
	read := func(src content.Fetcher, manifest ocispec.Descriptor) (any, bool) {
		raw, err := content.FetchAll(ctx, src, manifest)
		if err != nil || len(raw) > DefaultMaxManifestSize {
			return nil, false
		}
		var m ocispec.Manifest
		if json.Unmarshal(raw, &m) != nil {
			return nil, false
		}
		data, err := content.FetchAll(ctx, src, m.Config)
		var v any
		if err != nil || json.Unmarshal(data, &v) != nil {
			return nil, false
		}
		return v, true
	}
	g, ok1 := read(gotSrc, got)
	w, ok2 := read(wantSrc, want)
	if !ok1 || !ok2 {
		return ""
	}
	if path, what := firstJSONDifference("", g, w); path != "" {
		return fmt.Sprintf(": the config's %s %s", path, what)
	}
	return ""
}

// firstJSONDifference walks two decoded JSON values in key order and
// names the first path where they differ: a field only got has, a field
// it lacks, or another value.
func firstJSONDifference(path string, got, want any) (string, string) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	gm, gok := got.(map[string]any)
	wm, wok := want.(map[string]any)
	if !gok || !wok {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return cmp.Or(path, "document"), "differs from what capctl packs"
		}
		return "", ""
	}
	keys := slices.Sorted(maps.Keys(gm))
	for _, k := range keys {
		if _, ok := wm[k]; !ok {
			return join(k), "is not a field of the format"
		}
	}
	for _, k := range slices.Sorted(maps.Keys(wm)) {
		gv, ok := gm[k]
		if !ok {
			return join(k), "is missing"
		}
		if p, what := firstJSONDifference(join(k), gv, wm[k]); p != "" {
			return p, what
		}
	}
	return "", ""
}
