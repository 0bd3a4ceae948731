package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/builtin"
)

// packed is a bundle packed as an OCI artifact, held in memory: what a
// publish stream carries.
type packed struct {
	desc     ocispec.Descriptor
	manifest []byte
	// blobs are the config then every layer, in manifest order.
	blobs [][]byte
	store *memory.Store
	// tag is the version the manifest is tagged with in store.
	tag string
}

// size is the total size of the manifest and every blob.
func (p packed) size() int64 {
	n := int64(len(p.manifest))
	for _, b := range p.blobs {
		n += int64(len(b))
	}
	return n
}

// pack packs b into a fresh memory store, tags it with its version and
// reads it back.
func pack(ctx context.Context, b *capabilities.Bundle) (packed, error) {
	st := memory.New()
	desc, err := capabilities.Pack(ctx, st, b)
	if err != nil {
		return packed{}, fmt.Errorf("packing %s@%s: %w", b.Metadata.Name, b.Metadata.Version, err)
	}
	if err := st.Tag(ctx, desc, b.Metadata.Version); err != nil {
		return packed{}, err
	}
	p, err := readPacked(ctx, st, desc)
	p.tag = b.Metadata.Version
	return p, err
}

// readPacked reads the manifest desc describes and its blobs from st.
func readPacked(ctx context.Context, st *memory.Store, desc ocispec.Descriptor) (packed, error) {
	p := packed{desc: desc, store: st}
	var err error
	if p.manifest, err = content.FetchAll(ctx, st, desc); err != nil {
		return packed{}, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(p.manifest, &m); err != nil {
		return packed{}, err
	}
	for _, d := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		data, err := content.FetchAll(ctx, st, d)
		if err != nil {
			return packed{}, err
		}
		p.blobs = append(p.blobs, data)
	}
	return p, nil
}

// mustPack is pack for tests.
func mustPack(tb testing.TB, b *capabilities.Bundle) packed {
	tb.Helper()
	p, err := pack(context.Background(), b)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// builtinDir returns the source folder of the built-in bundle name.
func builtinDir(e *env, name string) string {
	return filepath.Join(e.root, "capabilities", "builtin", name)
}

// loadDir loads and validates the bundle folder dir.
func loadDir(tb testing.TB, dir string) *capabilities.Bundle {
	tb.Helper()
	b, err := capabilities.Load(context.Background(), dir, capabilities.Limits{})
	if err != nil {
		tb.Fatalf("loading %s: %v", dir, err)
	}
	return b
}

// withVersion returns a shallow copy of b published under version.
func withVersion(b *capabilities.Bundle, version string) *capabilities.Bundle {
	c := *b
	c.Metadata.Version = version
	return &c
}

// controllerBundle builds a controller bundle (manifests only, the cheapest
// kind for capd to check) named name at version with the given manifest
// files and keywords.
func controllerBundle(ctx context.Context, name, version, description string, keywords []string, manifests ...capabilities.File) (*capabilities.Bundle, error) {
	meta := capabilities.Metadata{
		Name:        name,
		Version:     version,
		Kind:        capabilities.KindController,
		Description: description,
		Keywords:    keywords,
	}
	files := append([]capabilities.File{{Name: capabilities.MetadataFile, Data: meta.Encode()}}, manifests...)
	return capabilities.FromFiles(ctx, files, capabilities.Limits{MaxBundleSize: 1 << 30})
}

// configMap returns a manifest file holding one ConfigMap named name whose
// data is about size bytes.
func configMap(name string, size int) capabilities.File {
	var sb strings.Builder
	fmt.Fprintf(&sb, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  blob: \"", name)
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	for i := 0; sb.Len() < size-2; i++ {
		sb.WriteByte(alphabet[(i*7+i/64)%len(alphabet)])
	}
	sb.WriteString("\"\n")
	return capabilities.File{Name: capabilities.ManifestsDir + "/" + name + ".yaml", Data: []byte(sb.String())}
}

// copyDir copies the regular files of src into dst.
func copyDir(tb testing.TB, src, dst string) {
	tb.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// readTree returns every regular file under dir by slash-separated
// relative path.
func readTree(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		files[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return files
}

// builtinNames lists the built-in bundles.
func builtinNames() []string { return builtin.Names() }

// invalidBundle hand-crafts an artifact with three problems: a version that
// is not strict semver ("1.0"), an unknown kind ("gadget") and a manifest
// file that is not a Kubernetes object (manifests/not-an-object.yaml).
func invalidBundle(tb testing.TB) packed {
	tb.Helper()
	config := []byte(`{"name":"broken","version":"1.0","kind":"gadget","description":"Three problems in one bundle."}`)
	layer := []byte("just: a mapping\n")
	st := memory.New()
	ctx := context.Background()
	configDesc := content.NewDescriptorFromBytes(capabilities.MediaTypeConfig, config)
	layerDesc := content.NewDescriptorFromBytes(capabilities.MediaTypeManifest, layer)
	layerDesc.Annotations = map[string]string{ocispec.AnnotationTitle: "manifests/not-an-object.yaml"}
	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: capabilities.ArtifactType,
		Config:       configDesc,
		Layers:       []ocispec.Descriptor{layerDesc},
	})
	if err != nil {
		tb.Fatal(err)
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, manifest)
	for _, blob := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{configDesc, config}, {layerDesc, layer}, {desc, manifest}} {
		if err := st.Push(ctx, blob.desc, bytes.NewReader(blob.data)); err != nil {
			tb.Fatal(err)
		}
	}
	p, err := readPacked(ctx, st, desc)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}
