package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
)

// Records are small OCI artifacts the store writes next to a capability
// manifest, as referrers of it (subject = the capability manifest), so the
// index can be rebuilt from content alone: a publish record says a version
// was published, under which name and version, and when; a state record
// carries the version's whole state after one SetState. Their config blob
// is the JSON record, with the artifactType as its media type.
const (
	publishRecordType = "application/vnd.capcenter.publish.v1+json"
	stateRecordType   = "application/vnd.capcenter.state.v1+json"
)

// publishRecord is the config of a publish record.
type publishRecord struct {
	Name    string    `json:"name"`
	Version string    `json:"version"`
	Created time.Time `json:"created"`
	// Digest is the record manifest's digest, set when Reindex reads it.
	Digest string `json:"-"`
}

// stateRecord is the config of a state record; the highest Seq of one
// subject is its current state.
type stateRecord struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	state
}

// pushRecord pushes body as a record of subject and returns the record
// manifest's descriptor. Content already stored is not pushed again. It
// fails with the content store's error.
func (s *Store) pushRecord(ctx context.Context, artifactType string, subject ocispec.Descriptor, created time.Time, body any) (ocispec.Descriptor, error) {
	cfg, err := json.Marshal(body)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("encode record: %w", err)
	}
	cfgDesc := content.NewDescriptorFromBytes(artifactType, cfg)
	if err := s.pushBytes(ctx, cfgDesc, cfg); err != nil {
		return ocispec.Descriptor{}, err
	}
	subject = ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size, ArtifactType: subject.ArtifactType}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType,
		Config:       cfgDesc,
		Layers:       []ocispec.Descriptor{},
		Subject:      &subject,
		Annotations:  map[string]string{ocispec.AnnotationCreated: created.Format(time.RFC3339Nano)},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("encode record manifest: %w", err)
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	desc.ArtifactType = artifactType
	return desc, s.pushBytes(ctx, desc, raw)
}

// pushBytes pushes data unless the content already holds it.
func (s *Store) pushBytes(ctx context.Context, desc ocispec.Descriptor, data []byte) error {
	return s.pushReader(ctx, desc, func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

// pushReader pushes the content open returns, unless the content store
// already holds desc; oras verifies the size and digest as it writes.
func (s *Store) pushReader(ctx context.Context, desc ocispec.Descriptor, open func() (io.ReadCloser, error)) error {
	exists, err := s.content.Exists(ctx, desc)
	if err != nil {
		return fmt.Errorf("%s: %w", desc.Digest, translate(err))
	}
	if exists {
		return nil
	}
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	err = s.content.Push(ctx, desc, rc)
	if err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return fmt.Errorf("%s: push: %w", desc.Digest, translate(err))
	}
	return nil
}
