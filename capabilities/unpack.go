package capabilities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// Unpack fetches the bundle whose image manifest desc describes from src,
// and validates it as Load does. Every blob is checked against the size the
// manifest declares before it is fetched and read no further than that size,
// and against its digest. It fails with an error wrapping ErrTooLarge when a
// bound in lim is crossed, ErrUnsafePath when a layer title could escape the
// bundle folder, ErrInvalid for anything else that is not a valid bundle,
// and with src's error (e.g. errdef.ErrNotFound) when content is missing.
func Unpack(ctx context.Context, src content.Fetcher, desc ocispec.Descriptor, lim Limits) (*Bundle, error) {
	lim = lim.withDefaults()
	manifest, err := fetchManifest(ctx, src, desc)
	if err != nil {
		return nil, err
	}
	if err := checkLayers(manifest, lim); err != nil {
		return nil, fmt.Errorf("%s: %w", desc.Digest, err)
	}
	cfgData, err := fetchBounded(ctx, src, manifest.Config, lim.MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("%s: config: %w", desc.Digest, err)
	}
	var cfg Config
	if err := json.Unmarshal(cfgData, &cfg); err != nil {
		return nil, fmt.Errorf("%s: config: %w: %w", desc.Digest, ErrInvalid, err)
	}
	var ps problems
	checkMetadata(&cfg.Metadata, "config", func(string) (int, int) { return 0, 0 }, &ps)
	b := &Bundle{Metadata: cfg.Metadata}
	var meta []byte
	for _, l := range manifest.Layers {
		name := l.Annotations[ocispec.AnnotationTitle]
		data, err := fetchBounded(ctx, src, l, lim.MaxFileSize)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		switch fileRole(name) {
		case MetadataFile:
			meta = data
		case TemplateFile:
			b.Template = data
		case ReadmeFile:
			b.Readme = data
		case ManifestsDir:
			b.Manifests = append(b.Manifests, File{name, data})
		case ExamplesDir:
			b.Examples = append(b.Examples, File{name, data})
		}
	}
	sortFiles(b.Manifests)
	sortFiles(b.Examples)
	checkMetadataLayer(b, meta, &ps)
	if err := b.finish(ctx, lim, ps); err != nil {
		return nil, err // never half a bundle
	}
	return b, nil
}

// fetchManifest reads and decodes a bundle's image manifest, verifying its
// digest, and checks it is a capability artifact.
func fetchManifest(ctx context.Context, src content.Fetcher, desc ocispec.Descriptor) (*ocispec.Manifest, error) {
	if desc.MediaType != ocispec.MediaTypeImageManifest {
		return nil, fmt.Errorf("%s: %w: media type %q is not an OCI image manifest", desc.Digest, ErrInvalid, desc.MediaType)
	}
	data, err := fetchBounded(ctx, src, desc, maxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("manifest %w", err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w: manifest: %w", desc.Digest, ErrInvalid, err)
	}
	switch {
	case m.MediaType != "" && m.MediaType != ocispec.MediaTypeImageManifest:
		return nil, fmt.Errorf("%s: %w: manifest mediaType %q", desc.Digest, ErrInvalid, m.MediaType)
	case m.ArtifactType != ArtifactType:
		return nil, fmt.Errorf("%s: %w: artifactType %q is not %s", desc.Digest, ErrInvalid, m.ArtifactType, ArtifactType)
	case m.Config.MediaType != MediaTypeConfig:
		return nil, fmt.Errorf("%s: %w: config mediaType %q is not %s", desc.Digest, ErrInvalid, m.Config.MediaType, MediaTypeConfig)
	}
	return &m, nil
}

// checkLayers applies the limits and path rules to a manifest's layers
// before any of them is fetched.
func checkLayers(m *ocispec.Manifest, lim Limits) error {
	if len(m.Layers) > lim.MaxFiles {
		return fmt.Errorf("%d layers, more than %d: %w", len(m.Layers), lim.MaxFiles, ErrTooLarge)
	}
	total := m.Config.Size
	seen := map[string]bool{}
	for i, l := range m.Layers {
		name, ok := l.Annotations[ocispec.AnnotationTitle]
		if !ok {
			return fmt.Errorf("layer %d: %w: no %s annotation", i, ErrInvalid, ocispec.AnnotationTitle)
		}
		if err := checkPath(name); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		role := fileRole(name)
		switch {
		case role == "":
			return fmt.Errorf("layer %d: %q: %w: no such file in a bundle", i, name, ErrInvalid)
		case l.MediaType != mediaTypeOf(name):
			return fmt.Errorf("layer %d: %q: %w: media type %q, want %q", i, name, ErrInvalid, l.MediaType, mediaTypeOf(name))
		case seen[name]:
			return fmt.Errorf("layer %d: %q: %w: appears twice", i, name, ErrInvalid)
		case l.Size < 0 || l.Size > lim.MaxFileSize:
			return fmt.Errorf("layer %d: %q: %d bytes, more than %d: %w", i, name, l.Size, lim.MaxFileSize, ErrTooLarge)
		}
		seen[name] = true
		total += l.Size
		if total > lim.MaxBundleSize {
			return fmt.Errorf("layer %d: %q: bundle larger than %d bytes: %w", i, name, lim.MaxBundleSize, ErrTooLarge)
		}
	}
	return nil
}

// fetchBounded fetches desc, refusing a declared size over max, reading no
// more than the declared size, and verifying the digest.
func fetchBounded(ctx context.Context, src content.Fetcher, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	if desc.Size < 0 || desc.Size > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than %d: %w", desc.Digest, desc.Size, limit, ErrTooLarge)
	}
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("%q: %w: %w", desc.Digest, ErrInvalid, err)
	}
	data, err := content.FetchAll(ctx, src, desc)
	switch {
	case errors.Is(err, content.ErrMismatchedDigest), errors.Is(err, content.ErrTrailingData), errors.Is(err, io.ErrUnexpectedEOF):
		// The content is not what its descriptor says: tampered or truncated.
		return nil, fmt.Errorf("%s: %w: content does not match its descriptor: %w", desc.Digest, ErrInvalid, err)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", desc.Digest, err)
	}
	return data, nil
}

// checkMetadataLayer checks that the capability.yaml layer is there and
// says what the config says, and keeps it as the bundle's MetadataYAML.
func checkMetadataLayer(b *Bundle, meta []byte, ps *problems) {
	if meta == nil {
		ps.add(MetadataFile, 0, 0, "missing: the artifact has no %s layer", MetadataFile)
		return
	}
	m := parseMetadata(MetadataFile, meta, ps)
	if m == nil {
		return
	}
	if file, config := m.Encode(), b.Metadata.Encode(); !bytes.Equal(file, config) {
		ps.add(MetadataFile, 0, 0, "does not agree with the artifact config: %s", firstDifference(file, config))
		return
	}
	b.MetadataYAML = meta
}

// firstDifference names the first line where two encodings of metadata
// differ, as "the file says X, the config Y".
func firstDifference(file, config []byte) string {
	fl, cl := strings.Split(string(file), "\n"), strings.Split(string(config), "\n")
	for i := range max(len(fl), len(cl)) {
		var f, c string
		if i < len(fl) {
			f = strings.TrimSpace(fl[i])
		}
		if i < len(cl) {
			c = strings.TrimSpace(cl[i])
		}
		if f != c {
			return fmt.Sprintf("the file says %q where the config says %q", clipLine(f), clipLine(c))
		}
	}
	return "they differ"
}

// clipLine keeps a quoted line short.
func clipLine(s string) string {
	const most = 120
	if len(s) > most {
		return s[:most] + "…"
	}
	return s
}
