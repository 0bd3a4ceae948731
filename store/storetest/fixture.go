package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/capcenter/capcenter/store"
)

// Media types of the fixtures. ArtifactType is the capability artifact
// type (capabilities.ArtifactType), which stores catalog by default.
const (
	ArtifactType    = "application/vnd.capcenter.capability.v1"
	mediaTypeConfig = "application/vnd.capcenter.capability.config.v1+json"
	mediaTypeReadme = "text/markdown"
)

// fixtureConfig is the config blob of a fixture: the catalog fields, so
// Describe can read them back without knowing the bundle format.
type fixtureConfig struct {
	Name            string             `json:"name"`
	Version         string             `json:"version"`
	Kind            string             `json:"kind,omitempty"`
	Description     string             `json:"description,omitempty"`
	Keywords        []string           `json:"keywords,omitempty"`
	Dependencies    []store.Dependency `json:"dependencies,omitempty"`
	Kubernetes      string             `json:"kubernetes,omitempty"`
	AppliesTo       []string           `json:"appliesTo,omitempty"`
	Source          string             `json:"source,omitempty"`
	ParameterSchema json.RawMessage    `json:"parameterSchema,omitempty"`
	Readme          string             `json:"readme,omitempty"`
}

// Publication packs v's catalog fields into a small OCI artifact in an
// in-memory store (a config blob holding the fields, a README layer, an
// image manifest of ArtifactType) and returns it ready to publish. The
// same v always packs to the same manifest digest; change any field to
// get other content under the same version. It fails tb when packing
// fails.
func Publication(tb testing.TB, v store.Version) store.Publication {
	tb.Helper()
	return pack(tb, v, ArtifactType)
}

// pack is Publication with any artifact type.
func pack(tb testing.TB, v store.Version, artifactType string) store.Publication {
	tb.Helper()
	ctx := context.Background()
	mem := memory.New()
	cfg, err := json.Marshal(fixtureConfig{
		Name: v.Name, Version: v.Version, Kind: v.Kind, Description: v.Description,
		Keywords: v.Keywords, Dependencies: v.Dependencies, Kubernetes: v.Kubernetes,
		AppliesTo: v.AppliesTo, Source: v.Source, ParameterSchema: v.ParameterSchema, Readme: v.Readme,
	})
	if err != nil {
		tb.Fatalf("fixture %s@%s: %v", v.Name, v.Version, err)
	}
	cfgDesc := content.NewDescriptorFromBytes(mediaTypeConfig, cfg)
	readme := []byte(fmt.Sprintf("# %s %s\n\n%s\n", v.Name, v.Version, v.Readme))
	readmeDesc := content.NewDescriptorFromBytes(mediaTypeReadme, readme)
	readmeDesc.Annotations = map[string]string{ocispec.AnnotationTitle: "README.md"}
	for _, b := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{cfgDesc, cfg}, {readmeDesc, readme}} {
		if err := mem.Push(ctx, b.desc, bytes.NewReader(b.data)); err != nil {
			tb.Fatalf("fixture %s@%s: %v", v.Name, v.Version, err)
		}
	}
	desc, err := oras.PackManifest(ctx, mem, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{
		ConfigDescriptor: &cfgDesc,
		Layers:           []ocispec.Descriptor{readmeDesc},
		ManifestAnnotations: map[string]string{
			ocispec.AnnotationTitle:   v.Name,
			ocispec.AnnotationVersion: v.Version,
			ocispec.AnnotationCreated: "1970-01-01T00:00:00Z",
		},
	})
	if err != nil {
		tb.Fatalf("fixture %s@%s: %v", v.Name, v.Version, err)
	}
	return store.Publication{Manifest: desc, Content: mem, Version: v}
}

// Describe is the store.Describer of fixtures made by Publication: it
// reads the catalog fields from the config blob. It fails when the
// manifest or config cannot be fetched or decoded.
func Describe(ctx context.Context, src content.Fetcher, manifest ocispec.Descriptor) (store.Version, error) {
	raw, err := content.FetchAll(ctx, src, manifest)
	if err != nil {
		return store.Version{}, fmt.Errorf("%s: %w", manifest.Digest, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return store.Version{}, fmt.Errorf("%s: %w", manifest.Digest, err)
	}
	raw, err = content.FetchAll(ctx, src, m.Config)
	if err != nil {
		return store.Version{}, fmt.Errorf("%s: config: %w", manifest.Digest, err)
	}
	var c fixtureConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return store.Version{}, fmt.Errorf("%s: config: %w", manifest.Digest, err)
	}
	return store.Version{
		Name: c.Name, Version: c.Version, Kind: c.Kind, Description: c.Description,
		Keywords: c.Keywords, Dependencies: c.Dependencies, Kubernetes: c.Kubernetes,
		AppliesTo: c.AppliesTo, Source: c.Source, ParameterSchema: []byte(c.ParameterSchema), Readme: c.Readme,
	}, nil
}

// failingFetcher serves content but fails on one digest, to break a
// publish half way through.
type failingFetcher struct {
	content.Fetcher
	fail digest.Digest
}

// errInjected is the failure failingFetcher returns.
var errInjected = errors.New("injected fetch failure")

func (f failingFetcher) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if desc.Digest == f.fail {
		return nil, fmt.Errorf("%s: %w", desc.Digest, errInjected)
	}
	return f.Fetcher.Fetch(ctx, desc)
}

// layers returns the config and layer descriptors of a fixture.
func layers(tb testing.TB, p store.Publication) []ocispec.Descriptor {
	tb.Helper()
	raw, err := content.FetchAll(context.Background(), p.Content, p.Manifest)
	if err != nil {
		tb.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		tb.Fatal(err)
	}
	return append([]ocispec.Descriptor{m.Config}, m.Layers...)
}
