package capabilities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
)

// Media types of a capability bundle as an OCI artifact.
const (
	ArtifactType      = "application/vnd.capcenter.capability.v1"
	MediaTypeConfig   = "application/vnd.capcenter.capability.config.v1+json"
	MediaTypeMetadata = "application/vnd.capcenter.capability.metadata.v1+yaml"
	MediaTypeTemplate = "application/vnd.capcenter.capability.template.v1+cue"
	MediaTypeManifest = "application/vnd.capcenter.capability.manifest.v1+yaml"
	MediaTypeExample  = "application/vnd.capcenter.capability.example.v1+yaml"
	MediaTypeReadme   = "text/markdown"
)

// createdEpoch is the creation time stamped on every bundle manifest. The
// same bundle must pack to the same digest whenever it is packed, so no wall
// clock goes in; the registry records when a version was published.
const createdEpoch = "1970-01-01T00:00:00Z"

// Config is the artifact's config blob: the metadata, the definition header
// and the parameter schema, so that catalogs need not evaluate CUE.
type Config struct {
	Metadata
	Definition      *Definition `json:"definition,omitempty"`
	ParameterSchema *Schema     `json:"parameterSchema,omitempty"`
}

// Config derives the artifact config of b. It fails when the parameter
// schema cannot be derived.
func (b *Bundle) Config() (*Config, error) {
	cfg := &Config{Metadata: b.Metadata, Definition: b.Definition}
	if b.Definition != nil {
		s, err := b.Definition.ParameterSchema()
		if err != nil {
			return nil, fmt.Errorf("%s: parameter schema: %w", b.Metadata.Name, err)
		}
		cfg.ParameterSchema = s
	}
	return cfg, nil
}

// mediaTypeOf returns the layer media type of a bundle file.
func mediaTypeOf(name string) string {
	switch fileRole(name) {
	case MetadataFile:
		return MediaTypeMetadata
	case TemplateFile:
		return MediaTypeTemplate
	case ReadmeFile:
		return MediaTypeReadme
	case ManifestsDir:
		return MediaTypeManifest
	case ExamplesDir:
		return MediaTypeExample
	}
	return ""
}

// Pack pushes b into dst as an OCI artifact: the config, one layer per file
// (titled with its path), then the image manifest, whose descriptor it
// returns. The same bundle always packs to the same manifest digest. Content
// dst already holds is not pushed again. It fails with dst's error.
func Pack(ctx context.Context, dst content.Pusher, b *Bundle) (ocispec.Descriptor, error) {
	cfg, err := b.Config()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: config: %w", b.Metadata.Name, err)
	}
	cfgDesc := content.NewDescriptorFromBytes(MediaTypeConfig, cfgJSON)
	if err := push(ctx, dst, cfgDesc, cfgJSON); err != nil {
		return ocispec.Descriptor{}, err
	}
	var layers []ocispec.Descriptor
	for _, f := range b.Files() {
		desc := content.NewDescriptorFromBytes(mediaTypeOf(f.Name), f.Data)
		desc.Annotations = map[string]string{ocispec.AnnotationTitle: f.Name}
		if err := push(ctx, dst, desc, f.Data); err != nil {
			return ocispec.Descriptor{}, err
		}
		layers = append(layers, desc)
	}
	annotations := map[string]string{
		ocispec.AnnotationTitle:   b.Metadata.Name,
		ocispec.AnnotationVersion: b.Metadata.Version,
		ocispec.AnnotationCreated: createdEpoch,
	}
	if b.Metadata.Description != "" {
		annotations[ocispec.AnnotationDescription] = b.Metadata.Description
	}
	if b.Metadata.Source != "" {
		annotations[ocispec.AnnotationSource] = b.Metadata.Source
	}
	return oras.PackManifest(ctx, dst, oras.PackManifestVersion1_1, ArtifactType, oras.PackManifestOptions{
		ConfigDescriptor:    &cfgDesc,
		Layers:              layers,
		ManifestAnnotations: annotations,
	})
}

func push(ctx context.Context, dst content.Pusher, desc ocispec.Descriptor, data []byte) error {
	if s, ok := dst.(content.ReadOnlyStorage); ok {
		if exists, err := s.Exists(ctx, desc); err == nil && exists {
			return nil
		}
	}
	err := dst.Push(ctx, desc, bytes.NewReader(data))
	if err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return fmt.Errorf("push %s: %w", desc.Digest, err)
	}
	return nil
}
