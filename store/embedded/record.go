package embedded

import (
	"encoding/json"
	"fmt"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// Records are small OCI artifacts the store writes next to a capability
// manifest, as referrers of it (subject = the capability manifest), so the
// index can be rebuilt from content alone: a publish record says a version
// was published, under which name and version, and when; a state record
// carries the version's whole state after one SetState. Their config blob
// is the JSON record, with the artifactType as its media type. Both are
// promised in the outbox by the commit they record (see outbox.go), and
// sealed with the store's key (see recordkey.go).
// Repository records, of plain content, are in reporecord.go.
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

// newRecord builds a record of subject holding body, created at created,
// sealed with k: its manifest's descriptor and the blobs to store, config
// first. It fails only when body does not encode.
func (k recordKey) newRecord(artifactType string, subject ocispec.Descriptor, created time.Time, body any) (ocispec.Descriptor, []outboxBlob, error) {
	cfg, err := json.Marshal(body)
	if err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("encode record: %w", err)
	}
	cfgDesc := content.NewDescriptorFromBytes(artifactType, cfg)
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
	k.seal(&m)
	raw, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("encode record manifest: %w", err)
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	desc.ArtifactType = artifactType
	return desc, []outboxBlob{{Descriptor: cfgDesc, Data: cfg}, {Descriptor: desc, Data: raw}}, nil
}
