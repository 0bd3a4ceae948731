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
		return describeBundle(b)
	}
}

var _ store.Describer = Describe

// describeBundle maps a validated bundle to the catalog fields of a
// version; the store fills the digest, size, time and state. It fails when
// the parameter schema cannot be derived.
func describeBundle(b *capabilities.Bundle) (store.Version, error) {
	cfg, err := b.Config()
	if err != nil {
		return store.Version{}, err
	}
	m := cfg.Metadata
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
	if cfg.ParameterSchema != nil {
		v.ParameterSchema, err = json.Marshal(cfg.ParameterSchema)
		if err != nil {
			return store.Version{}, fmt.Errorf("%s@%s: parameter schema: %w", m.Name, m.Version, err)
		}
	}
	return v, nil
}
