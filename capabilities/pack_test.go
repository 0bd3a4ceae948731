package capabilities

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/content/oci"
)

// packDigest packs b into a new memory store and returns the manifest digest.
func packDigest(t *testing.T, b *Bundle) string {
	t.Helper()
	desc, err := Pack(t.Context(), memory.New(), b)
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	return desc.Digest.String()
}

// fetchJSON fetches desc from src and decodes it into v.
func fetchJSON(t *testing.T, src content.Fetcher, desc ocispec.Descriptor, v any) {
	t.Helper()
	data, err := content.FetchAll(t.Context(), src, desc)
	if err != nil {
		t.Fatalf("fetch %s: %v", desc.Digest, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", desc.Digest, err)
	}
}

// TestPackDeterministic shows that a bundle packs to the same digest in any
// store, any number of times, from any folder.
func TestPackDeterministic(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{goodComponent, goodTrait} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			b := mustLoad(t, dir)
			first, err := Pack(t.Context(), memory.New(), b)
			if err != nil {
				t.Fatalf("Pack: %v", err)
			}
			store, err := oci.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			mem := memory.New()
			for i, dst := range []content.Pusher{memory.New(), store, mem, mem} {
				desc, err := Pack(t.Context(), dst, b)
				if err != nil {
					t.Fatalf("Pack #%d: %v", i, err)
				}
				if !reflect.DeepEqual(desc, first) {
					t.Errorf("Pack #%d = %+v, want %+v", i, desc, first)
				}
			}
			if got := packDigest(t, mustLoad(t, copyDir(t, dir))); got != first.Digest.String() {
				t.Errorf("digest of a copy in another folder = %s, want %s", got, first.Digest)
			}
			if first.MediaType != ocispec.MediaTypeImageManifest || first.ArtifactType != ArtifactType {
				t.Errorf("descriptor = %+v", first)
			}
		})
	}
}

// TestPackChanges shows that any change to a bundle changes its digest.
func TestPackChanges(t *testing.T) {
	t.Parallel()
	base := packDigest(t, mustLoad(t, goodComponent))
	tests := []struct {
		name   string
		change func(*Bundle)
	}{
		{"version", func(b *Bundle) { b.Metadata.Version = "1.2.1" }},
		{"readme", func(b *Bundle) { b.Readme = append(b.Readme, '\n') }},
		{"example", func(b *Bundle) { b.Examples[0].Data = append(b.Examples[0].Data, '\n') }},
		{"manifest name", func(b *Bundle) { b.Manifests[0].Name = "manifests/cm.yaml" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := mustLoad(t, goodComponent)
			tt.change(b)
			if got := packDigest(t, b); got == base {
				t.Errorf("digest unchanged: %s", got)
			}
		})
	}
}

func TestPackLayout(t *testing.T) {
	t.Parallel()
	b := mustLoad(t, goodComponent)
	store := memory.New()
	desc, err := Pack(t.Context(), store, b)
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	var m ocispec.Manifest
	fetchJSON(t, store, desc, &m)
	wantAnn := map[string]string{
		ocispec.AnnotationTitle:       "acme/webapp",
		ocispec.AnnotationVersion:     "1.2.0",
		ocispec.AnnotationCreated:     "1970-01-01T00:00:00Z",
		ocispec.AnnotationDescription: "A small stateless web application.",
		ocispec.AnnotationSource:      "https://example.com/capcenter/webapp",
	}
	if m.ArtifactType != ArtifactType || m.Config.MediaType != MediaTypeConfig || !reflect.DeepEqual(m.Annotations, wantAnn) {
		t.Errorf("manifest = %+v", m)
	}
	type layer struct{ mediaType, title string }
	var got []layer
	for _, l := range m.Layers {
		got = append(got, layer{l.MediaType, l.Annotations[ocispec.AnnotationTitle]})
	}
	want := []layer{
		{MediaTypeMetadata, MetadataFile},
		{MediaTypeTemplate, TemplateFile},
		{MediaTypeManifest, "manifests/configmap.yaml"},
		{MediaTypeReadme, ReadmeFile},
		{MediaTypeExample, "examples/basic.yaml"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("layers = %v, want %v", got, want)
	}

	// The config holds the metadata, the header and the parameter schema.
	var cfg struct {
		Metadata
		Definition      map[string]any `json:"definition"`
		ParameterSchema *Schema        `json:"parameterSchema"`
	}
	fetchJSON(t, store, m.Config, &cfg)
	if !reflect.DeepEqual(cfg.Metadata, b.Metadata) {
		t.Errorf("config metadata = %+v, want %+v", cfg.Metadata, b.Metadata)
	}
	if cfg.Definition["name"] != "webapp" || cfg.Definition["type"] != "component" || cfg.Definition["template"] != nil {
		t.Errorf("config definition = %v", cfg.Definition)
	}
	s := cfg.ParameterSchema
	if s == nil || !reflect.DeepEqual(s.Required, []string{"image"}) || s.Properties["replicas"].Type != "integer" ||
		s.Properties["image"].Description != "Container image to run" {
		t.Errorf("config parameterSchema = %+v", s)
	}
}

func TestPackController(t *testing.T) {
	t.Parallel()
	files := []File{
		{MetadataFile, []byte("name: acme/operator\nversion: 2.0.0\nkind: controller\n")},
		{"manifests/crd.yaml", []byte("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.acme.io\n")},
	}
	b, err := FromFiles(t.Context(), files, Limits{})
	if err != nil {
		t.Fatalf("FromFiles: %v", err)
	}
	store := memory.New()
	desc, err := Pack(t.Context(), store, b)
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	var cfg map[string]any
	var m ocispec.Manifest
	fetchJSON(t, store, desc, &m)
	fetchJSON(t, store, m.Config, &cfg)
	if _, ok := cfg["parameterSchema"]; ok || len(m.Layers) != 2 {
		t.Errorf("controller config = %v, %d layers", cfg, len(m.Layers))
	}
	got, err := Unpack(t.Context(), store, desc, Limits{})
	if err != nil || !reflect.DeepEqual(got, b) {
		t.Errorf("Unpack = %+v, %v; want %+v", got, err, b)
	}
}

// TestPackUnpackRoundTrip shows that Unpack gives back the bundle packed,
// from memory and from an OCI layout on disk.
func TestPackUnpackRoundTrip(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{goodComponent, goodTrait} {
		for _, storeName := range []string{"memory", "oci"} {
			t.Run(filepath.Base(dir)+"/"+storeName, func(t *testing.T) {
				t.Parallel()
				var store content.Storage = memory.New()
				if storeName == "oci" {
					s, err := oci.New(t.TempDir())
					if err != nil {
						t.Fatal(err)
					}
					store = s
				}
				b := mustLoad(t, dir)
				desc, err := Pack(t.Context(), store, b)
				if err != nil {
					t.Fatalf("Pack: %v", err)
				}
				got, err := Unpack(t.Context(), store, desc, Limits{})
				if err != nil {
					t.Fatalf("Unpack: %v", err)
				}
				if !reflect.DeepEqual(got, b) {
					t.Errorf("Unpack =\n%+v\nwant\n%+v", got, b)
				}
				if again := packDigest(t, got); again != desc.Digest.String() {
					t.Errorf("repacked digest = %s, want %s", again, desc.Digest)
				}
			})
		}
	}
}
