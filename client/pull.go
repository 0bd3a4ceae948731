package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/capcenter/capcenter/capabilities"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// Pulled is a version pulled from the registry, every byte of it verified.
type Pulled struct {
	// Version is the version as the registry describes it.
	Version *capcenterv1.Version
	// Manifest describes the bundle's OCI image manifest; its digest is
	// Version.Digest.
	Manifest ocispec.Descriptor
	// Bundle is the unpacked, validated bundle; PullContent leaves it nil.
	Bundle *capabilities.Bundle
	// Content holds the manifest, config and layers as pulled, for copying
	// the artifact elsewhere (an OCI layout, a cluster's registry).
	Content content.ReadOnlyStorage
	// Verification is the verdict on the version's signatures; only
	// PullVerified sets it.
	Verification *Verification
}

// Pull downloads version of capability name ("" or Latest for the highest
// version not yanked) as PullContent does, then unpacks and validates it
// within lim. It fails as PullContent does, and with Unpack's errors when
// the verified content is not a valid bundle.
func (c *Client) Pull(ctx context.Context, name, version string, lim capabilities.Limits) (*Pulled, error) {
	p, err := c.PullContent(ctx, name, version, lim)
	if err != nil {
		return nil, err
	}
	if p.Bundle, err = capabilities.Unpack(ctx, p.Content, p.Manifest, lim); err != nil {
		return nil, fmt.Errorf("%s: %w", Ref(name, orLatest(version)), err)
	}
	if err := checkBundle(p); err != nil {
		return nil, err
	}
	return p, nil
}

// checkBundle checks that an unpacked bundle's own metadata names the
// capability and version the registry served it as.
func checkBundle(p *Pulled) error {
	md := p.Bundle.Metadata
	if md.Name != p.Version.GetCapability() || md.Version != p.Version.GetVersion() {
		return fmt.Errorf("%s: %w: its capability.yaml says it is %s",
			Ref(p.Version.GetCapability(), p.Version.GetVersion()), ErrMislabeled, Ref(md.Name, md.Version))
	}
	return nil
}

// PullContent downloads the artifact of version of capability name, every
// byte verified, without unpacking it: for mirroring, or when only the
// content is wanted. It verifies as it reads: the manifest against the
// version's digest, the declared sizes against lim before any content is
// read, and each blob against its descriptor, reading no further than the
// sizes declared. It fails with ErrNotFound when there is no such version,
// ErrDigestMismatch when the content is not what its digests say (nothing
// is returned then), an error wrapping capabilities.ErrTooLarge when the
// bundle exceeds lim, and ErrInternal when the server breaks the wire
// protocol.
func (c *Client) PullContent(ctx context.Context, name, version string, lim capabilities.Limits) (*Pulled, error) {
	return c.pullContent(ctx, name, version, "", lim)
}

// pullContent is PullContent, pinned to manifest digest dgst when it is
// not empty: the server sends that manifest or fails, and a manifest with
// another digest fails with ErrDigestMismatch.
func (c *Client) pullContent(ctx context.Context, name, version string, dgst digest.Digest, lim capabilities.Limits) (*Pulled, error) {
	rn, err := versionName(name, version)
	if err != nil {
		return nil, err
	}
	subject := Ref(name, orLatest(version))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the stream when we stop reading early
	req := &capcenterv1.PullBundleRequest{Name: rn, Digest: dgst.String()}
	stream, err := c.rpc.PullBundle(ctx, req, callOptions()...)
	if err != nil {
		return nil, wrapStatus(ctx, subject, err)
	}
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil, protocolError(subject, "the stream ended before its header")
	}
	if err != nil {
		return nil, wrapStatus(ctx, subject, err)
	}
	header := first.GetHeader()
	if header == nil || header.GetVersion() == nil {
		return nil, protocolError(subject, "the stream does not start with a header")
	}
	if got := digest.FromBytes(header.GetManifest()); dgst != "" && got != dgst {
		return nil, fmt.Errorf("%s: %w: the server sent manifest %s, not the verified %s", subject, ErrDigestMismatch, got, dgst)
	}
	p, blobs, err := checkHeader(subject, name, version, header, lim)
	if err != nil {
		return nil, err
	}
	staged := verified{p.Manifest.Digest: header.GetManifest()} // checkHeader verified it
	var total int64
	for _, d := range blobs {
		total += d.Size
	}
	tr := c.startTransfer("pull "+subject, total)
	err = receiveBlobs(ctx, subject, stream, staged, blobs, tr)
	tr.Done(err)
	if err != nil {
		return nil, err
	}
	p.Content = staged
	return p, nil
}

// checkHeader checks a pull header before any content is read: the
// manifest's digest is the version's, the version is the one asked for,
// and the sizes the manifest declares fit lim. It returns the blobs to
// read, config first.
func checkHeader(subject, name, version string, h *capcenterv1.PullHeader, lim capabilities.Limits) (*Pulled, []ocispec.Descriptor, error) {
	v, raw := h.GetVersion(), h.GetManifest()
	if len(raw) > maxManifestSize {
		return nil, nil, fmt.Errorf("%s: manifest of %d bytes, more than %d: %w", subject, len(raw), maxManifestSize, capabilities.ErrTooLarge)
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	if v.GetDigest() != desc.Digest.String() {
		return nil, nil, fmt.Errorf("%s: %w: the manifest's digest is %s, the version's %s", subject, ErrDigestMismatch, desc.Digest, v.GetDigest())
	}
	if v.GetCapability() != name || (version != "" && version != Latest && v.GetVersion() != version) {
		return nil, nil, protocolError(subject, "the server sent %s", Ref(v.GetCapability(), v.GetVersion()))
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, nil, fmt.Errorf("%s: %w: manifest: %w", subject, capabilities.ErrInvalid, err)
	}
	if title, ver := m.Annotations[ocispec.AnnotationTitle], m.Annotations[ocispec.AnnotationVersion]; title != name || ver != v.GetVersion() {
		return nil, nil, fmt.Errorf("%s: %w: the manifest says it is %s", subject, ErrMislabeled, Ref(title, ver))
	}
	blobs := append([]ocispec.Descriptor{m.Config}, m.Layers...)
	if err := checkSizes(blobs, lim); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", subject, err)
	}
	return &Pulled{Version: v, Manifest: desc}, blobs, nil
}

// checkSizes applies lim, with the capabilities defaults for its zero
// fields, to the sizes blobs declare, and checks their digests are well
// formed.
func checkSizes(blobs []ocispec.Descriptor, lim capabilities.Limits) error {
	maxBundle, maxFile, maxFiles := lim.MaxBundleSize, lim.MaxFileSize, lim.MaxFiles
	if maxBundle <= 0 {
		maxBundle = capabilities.DefaultMaxBundleSize
	}
	if maxFile <= 0 {
		maxFile = capabilities.DefaultMaxFileSize
	}
	if maxFiles <= 0 {
		maxFiles = capabilities.DefaultMaxFiles
	}
	if len(blobs)-1 > maxFiles {
		return fmt.Errorf("%d layers, more than %d: %w", len(blobs)-1, maxFiles, capabilities.ErrTooLarge)
	}
	var total int64
	for _, d := range blobs {
		if err := d.Digest.Validate(); err != nil {
			return fmt.Errorf("%q: %w: %w", d.Digest, capabilities.ErrInvalid, err)
		}
		if d.Size < 0 || d.Size > maxFile {
			return fmt.Errorf("%s: %d bytes, more than %d: %w", d.Digest, d.Size, maxFile, capabilities.ErrTooLarge)
		}
		total += d.Size
		if total > maxBundle {
			return fmt.Errorf("bundle larger than %d bytes: %w", maxBundle, capabilities.ErrTooLarge)
		}
	}
	return nil
}

// receiveBlobs reads each blob's declared size from the stream's chunks,
// verifies it and stores it in dst; then it checks the stream ends.
func receiveBlobs(ctx context.Context, subject string, stream capcenterv1.CapabilityService_PullBundleClient, dst verified, blobs []ocispec.Descriptor, tr Tracker) error {
	r := &chunkReader{recv: stream.Recv, tr: tr}
	for _, d := range blobs {
		data := make([]byte, d.Size)
		n, err := io.ReadFull(r, data)
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("%s: %s: %w: the stream ended after %d of %d bytes", subject, d.Digest, ErrDigestMismatch, n, d.Size)
		case err != nil:
			return r.wrap(ctx, subject, err)
		}
		if got := d.Digest.Algorithm().FromBytes(data); got != d.Digest {
			return fmt.Errorf("%s: %s: %w: received content hashes to %s", subject, d.Digest, ErrDigestMismatch, got)
		}
		dst[d.Digest] = data
	}
	return r.end(ctx, subject)
}

// chunkReader reads the chunks of a pull stream as one byte stream.
type chunkReader struct {
	recv func() (*capcenterv1.PullBundleResponse, error)
	tr   Tracker
	buf  []byte
	// protocol is set when the stream broke the wire protocol.
	protocol bool
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		msg, err := r.recv()
		if err != nil {
			return 0, err
		}
		if msg.GetHeader() != nil {
			r.protocol = true
			return 0, errors.New("a second header")
		}
		r.buf = msg.GetChunk()
		r.tr.Add(len(r.buf))
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// end checks that nothing follows the declared content: no byte left in the
// last chunk, and no further message before the stream ends.
func (r *chunkReader) end(ctx context.Context, subject string) error {
	if len(r.buf) > 0 {
		return fmt.Errorf("%s: %w: %d bytes past the declared sizes", subject, ErrDigestMismatch, len(r.buf))
	}
	var one [1]byte
	n, err := r.Read(one[:])
	switch {
	case n > 0:
		return fmt.Errorf("%s: %w: content past the declared sizes", subject, ErrDigestMismatch)
	case errors.Is(err, io.EOF):
		return nil
	}
	return r.wrap(ctx, subject, err)
}

// wrap describes a failure to read the stream.
func (r *chunkReader) wrap(ctx context.Context, subject string, err error) error {
	if r.protocol {
		return protocolError(subject, "%v", err)
	}
	return wrapStatus(ctx, subject, err)
}
