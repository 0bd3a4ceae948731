package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
	"github.com/capcenter/capcenter/store"
)

// PullBundle streams a version's bundle as doc.go describes; the version
// may be "latest". With a digest it sends that manifest's content only. It
// fails with InvalidArgument for a malformed name or digest,
// FailedPrecondition when the version has another digest,
// NotFound for an unknown version, and Internal when stored content does
// not match its digest (after the chunks before it were sent).
func (s *Server) PullBundle(req *capcenterv1.PullBundleRequest, stream capcenterv1.CapabilityService_PullBundleServer) error {
	if err := s.allowRead(stream.Context()); err != nil {
		return err
	}
	ctx := stream.Context()
	v, err := s.version(ctx, req.GetName())
	if err != nil {
		return err
	}
	if err := checkDigest(v, req.GetDigest()); err != nil {
		return err
	}
	raw, manifest, err := s.fetchManifest(ctx, v.Digest)
	if err != nil {
		return err
	}
	pv, err := versionToProto(v)
	if err != nil {
		return err
	}
	header := &capcenterv1.PullBundleResponse{Part: &capcenterv1.PullBundleResponse_Header{
		Header: &capcenterv1.PullHeader{Version: pv, Manifest: raw},
	}}
	if err := stream.Send(header); err != nil {
		return err
	}
	w := newChunkWriter(func(chunk []byte) error {
		return stream.Send(&capcenterv1.PullBundleResponse{Part: &capcenterv1.PullBundleResponse_Chunk{Chunk: chunk}})
	})
	for _, d := range blobs(manifest) {
		if err := s.copyBlob(ctx, w, d); err != nil {
			return err
		}
	}
	return w.Flush()
}

// version looks up the version a resource name names, "latest" allowed.
func (s *Server) version(ctx context.Context, resource string) (store.Version, error) {
	name, version, err := parseVersionName(resource, true)
	if err != nil {
		return store.Version{}, err
	}
	return s.store.GetVersion(ctx, name, version)
}

// fetchManifest reads and decodes the stored manifest with digest dgst,
// verifying the digest. The store does not record the manifest's size, so
// it reads at most DefaultMaxManifestSize bytes.
func (s *Server) fetchManifest(ctx context.Context, dgst string) ([]byte, *ocispec.Manifest, error) {
	d, err := digest.Parse(dgst)
	if err != nil {
		return nil, nil, fmt.Errorf("stored digest %q: %w", dgst, err)
	}
	rc, err := s.store.Fetch(ctx, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: d})
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, DefaultMaxManifestSize+1))
	switch {
	case err != nil:
		return nil, nil, fmt.Errorf("manifest %s: %w", d, err)
	case len(raw) > DefaultMaxManifestSize:
		return nil, nil, fmt.Errorf("manifest %s: stored manifest larger than %d bytes", d, DefaultMaxManifestSize)
	case d.Algorithm().FromBytes(raw) != d:
		return nil, nil, fmt.Errorf("manifest %s: stored content does not match its digest", d)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, nil, fmt.Errorf("manifest %s: %w", d, err)
	}
	return raw, &m, nil
}

// copyBlob copies one stored blob to w, exactly its declared size. It does
// not hash what it sends: every client verifies each digest as it reads
// (the client package, oras, crane), the digests were verified when the
// blob was published, and hashing again here would cost a third of a
// large pull. A stored blob shorter than declared fails the call.
func (s *Server) copyBlob(ctx context.Context, w io.Writer, d ocispec.Descriptor) error {
	rc, err := s.store.Fetch(ctx, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	n, err := io.Copy(w, io.LimitReader(rc, d.Size))
	switch {
	case err != nil:
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	case n != d.Size:
		return fmt.Errorf("blob %s: stored blob has %d bytes, the manifest says %d", d.Digest, n, d.Size)
	}
	return nil
}

// manifestDescriptor describes stored manifest bytes.
func manifestDescriptor(raw []byte) ocispec.Descriptor {
	return content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
}
