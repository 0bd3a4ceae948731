package server

import (
	"context"
	"encoding/json"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/store"
)

// Describe reads the catalog fields of the bundle whose manifest is
// manifest from src, unpacking and validating it with the default limits:
// it is a store.Describer, for Store.Reindex. It fails as
// capabilities.Unpack does.
func Describe(ctx context.Context, src content.Fetcher, manifest ocispec.Descriptor) (store.Version, error) {
	return DescribeWithin(capabilities.Limits{})(ctx, src, manifest)
}

// DescribeWithin is Describe with the limits a server was configured with,
// so that reindexing keeps every bundle the server accepted.
func DescribeWithin(lim capabilities.Limits) store.Describer {
	lim = withDefaults(lim)
	return func(ctx context.Context, src content.Fetcher, manifest ocispec.Descriptor) (store.Version, error) {
		b, err := capabilities.Unpack(ctx, src, manifest, lim)
		if err != nil {
			return store.Version{}, err
		}
		return describeBundle(ctx, src, manifest, b)
	}
}

var _ store.Describer = Describe

// describeBundle maps b, validated and unpacked from manifest in src, to the
// catalog fields of a version; the store fills the digest, size, time and
// state. The parameter schema comes from the config blob Unpack verified,
// not from b.Config(), which would evaluate the template once more. It
// fails when src cannot give the manifest or config again.
func describeBundle(ctx context.Context, src content.Fetcher, manifest ocispec.Descriptor, b *capabilities.Bundle) (store.Version, error) {
	m := b.Metadata
	schema, err := parameterSchema(ctx, src, manifest)
	if err != nil {
		return store.Version{}, fmt.Errorf("%s@%s: %w", m.Name, m.Version, err)
	}
	v := store.Version{
		Name:        m.Name,
		Version:     m.Version,
		Kind:        string(m.Kind),
		Description: m.Description,
		Keywords:    m.Keywords,
		Kubernetes:  m.Requires.Kubernetes,
		AppliesTo:   m.AppliesTo,
		Source:      m.Source,
		Readme:      string(b.Readme),
	}
	for _, d := range m.Dependencies {
		v.Dependencies = append(v.Dependencies, store.Dependency{Name: d.Name, Range: d.Version})
	}
	if len(schema) > 0 && string(schema) != "null" {
		v.ParameterSchema = schema
	}
	return v, nil
}

// parameterSchema reads the parameterSchema field of the config blob of
// manifest, as raw JSON. Both blobs were verified by Unpack, and are read
// again bounded by their declared sizes.
func parameterSchema(ctx context.Context, src content.Fetcher, manifest ocispec.Descriptor) (json.RawMessage, error) {
	data, err := content.FetchAll(ctx, src, manifest)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var man ocispec.Manifest
	if err := json.Unmarshal(data, &man); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	data, err = content.FetchAll(ctx, src, man.Config)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var cfg struct {
		ParameterSchema json.RawMessage `json:"parameterSchema"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return cfg.ParameterSchema, nil
}
