package embedded

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/capcenter/capcenter/store"
	"github.com/capcenter/capcenter/store/storetest"
)

// pushManifest pushes an image manifest of artifactType with subject and
// an empty config into dst, and returns its descriptor.
func pushManifest(t *testing.T, dst content.Storage, artifactType string, subject ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	cfg := []byte("{}")
	cfgDesc := content.NewDescriptorFromBytes("application/vnd.example.config+json", cfg)
	raw, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType, Config: cfgDesc, Layers: []ocispec.Descriptor{}, Subject: &subject,
		Annotations: map[string]string{"io.capcenter.test": artifactType},
	})
	if err != nil {
		t.Fatal(err)
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	for _, b := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{cfgDesc, cfg}, {desc, raw}} {
		exists, err := dst.Exists(t.Context(), b.desc)
		if err != nil {
			t.Fatal(err)
		}
		if !exists {
			if err := dst.Push(t.Context(), b.desc, bytes.NewReader(b.data)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return desc
}

// TestReindexReferrers checks that Reindex keeps a referrer of a published
// version found in content however it got there, and ignores orphans.
func TestReindexReferrers(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, t.TempDir(), Options{NoSync: true})
	p := storetest.Publication(t, store.Version{Name: "webservice", Version: "1.0.0"})
	if _, _, err := s.Publish(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	unpublished := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("never published"), Size: 16}
	pushManifest(t, s.content, "application/vnd.example.orphan", unpublished)
	direct := pushManifest(t, s.content, "", p.Manifest)
	if err := s.Reindex(t.Context(), storetest.Describe); err != nil {
		t.Fatal(err)
	}
	v, err := s.GetVersion(t.Context(), "webservice", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Referrers) != 1 || v.Referrers[0].Digest != direct.Digest.String() || v.Referrers[0].Size != direct.Size {
		t.Fatalf("Referrers after Reindex = %+v, want only %s", v.Referrers, direct.Digest)
	}
	if r := v.Referrers[0]; r.ArtifactType != "application/vnd.example.config+json" || len(r.Annotations) != 1 {
		t.Errorf("referrer without artifactType = %+v, want the config media type and its annotation", r)
	}
}

// TestAddReferrerRefusesStoreTypes checks that AddReferrer refuses the
// artifact types Reindex would take for a record or a capability.
func TestAddReferrerRefusesStoreTypes(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, t.TempDir(), Options{NoSync: true})
	p := storetest.Publication(t, store.Version{Name: "webservice", Version: "1.0.0"})
	if _, _, err := s.Publish(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	src := memory.New()
	for _, artifactType := range []string{publishRecordType, stateRecordType, DefaultArtifactType} {
		desc := pushManifest(t, src, artifactType, p.Manifest)
		if _, err := s.AddReferrer(t.Context(), "webservice", "1.0.0", desc, src); !errors.Is(err, store.ErrInvalidArgument) {
			t.Errorf("AddReferrer of a %s = %v, want ErrInvalidArgument", artifactType, err)
		}
	}
}
