package embedded

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
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

// coSignature builds, in content of its own, a co-signature of
// name@version in s, and returns it with that content.
func coSignature(t *testing.T, s *Store, name, version string) (ocispec.Descriptor, content.Storage) {
	t.Helper()
	v, err := s.GetVersion(t.Context(), name, version)
	if err != nil {
		t.Fatal(err)
	}
	src := memory.New()
	subject := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest(v.Digest)}
	return pushManifest(t, src, "application/vnd.example.cosign", subject), src
}

// referrerDigests lists the digests of v's referrers, in order.
func referrerDigests(v store.Version) []string {
	out := []string{}
	for _, r := range v.Referrers {
		out = append(out, r.Digest)
	}
	return out
}

// hasReferrers fails t unless name@version in s has exactly the referrers
// want, in order.
func hasReferrers(t *testing.T, s *Store, what, name, version string, want []string) {
	t.Helper()
	v, err := s.GetVersion(t.Context(), name, version)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got := referrerDigests(v); !slices.Equal(got, want) {
		t.Errorf("%s: referrers of %s@%s = %q, want %q", what, name, version, got, want)
	}
}

// TestReindexReferrers checks that Reindex, in place and without the
// index file, gives a version exactly the referrers commits gave it (its
// signature from Publish, a co-signature from AddReferrer), and not a
// signature a client pushed as blobs, one whose AddReferrer stopped
// before its commit, or an orphan; and that a Reindex trusting
// unauthenticated records takes them all and records them.
func TestReindexReferrers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := mustOpen(t, t.TempDir(), Options{NoSync: true})
	p, _ := signed(t, s, "webservice", "1.0.0")
	// Without an artifactType, a referrer reports its config's media type.
	co := pushManifest(t, p.Content.(content.Storage), "", p.Manifest)
	if _, err := s.AddReferrer(ctx, "webservice", "1.0.0", co, p.Content); err != nil {
		t.Fatal(err)
	}
	v, err := s.GetVersion(ctx, "webservice", "1.0.0")
	if err != nil || len(v.Referrers) != 2 {
		t.Fatalf("GetVersion = %+v, %v; want 2 referrers", v, err)
	}
	committed := referrerDigests(v)

	unpublished := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("never published"), Size: 16}
	pushManifest(t, s.content, "application/vnd.example.orphan", unpublished)
	forgeSignature(t, s, "team-a/app", p.Manifest)
	// An AddReferrer that stored its referrer and stopped before its
	// commit (a crash, a canceled context).
	late, src := coSignature(t, s, "webservice", "1.0.0")
	ref, err := s.readReferrer(ctx, src, p.Manifest.Digest, late)
	if err != nil {
		t.Fatal(err)
	}
	batch := s.newBatch()
	if err := s.pushReferrers(ctx, batch, src, []pendingReferrer{ref}); err != nil {
		t.Fatal(err)
	}
	if err := batch.commit(); err != nil {
		t.Fatal(err)
	}

	st, err := s.ReindexWithStats(ctx, storetest.Describe)
	if err != nil || st.Unrecorded != 2 {
		t.Fatalf("Reindex = %+v, %v; want the forged and the uncommitted referrer unrecorded", st, err)
	}
	hasReferrers(t, s, "after Reindex in place", "webservice", "1.0.0", committed)
	s = rebuild(t, s)
	hasReferrers(t, s, "after Reindex without the index file", "webservice", "1.0.0", committed)
	v, err = s.GetVersion(ctx, "webservice", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.Index(committed, co.Digest.String()); i < 0 || v.Referrers[i].ArtifactType != "application/vnd.example.config+json" || len(v.Referrers[i].Annotations) != 1 {
		t.Errorf("referrer without artifactType = %+v, want the config media type and its annotation", v.Referrers)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, s.dir, Options{NoSync: true, TrustUnauthenticatedRecords: true})
	if st, err := s.ReindexWithStats(ctx, storetest.Describe); err != nil || st.Unrecorded != 0 {
		t.Fatalf("trusting Reindex = %+v, %v; want every referrer attached", st, err)
	}
	v, err = s.GetVersion(ctx, "webservice", "1.0.0")
	if err != nil || len(v.Referrers) != 4 {
		t.Fatalf("after a trusting Reindex = %+v, %v; want 4 referrers", v, err)
	}
	all := referrerDigests(v)
	s = rebuild(t, s)
	hasReferrers(t, s, "after a trusting Reindex and another", "webservice", "1.0.0", all)
}

// TestDeleteVersionRemovesReferrerRecords deletes a signed version and
// publishes its manifest again without referrers: Reindex must not give
// it the old incarnation's referrers, whose manifests content still has.
func TestDeleteVersionRemovesReferrerRecords(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := mustOpen(t, t.TempDir(), Options{NoSync: true})
	p, _ := signed(t, s, "webservice", "1.0.0")
	co, src := coSignature(t, s, "webservice", "1.0.0")
	if _, err := s.AddReferrer(ctx, "webservice", "1.0.0", co, src); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteVersion(ctx, "webservice", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	p.Referrers = nil
	if _, _, err := s.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	st, err := s.ReindexWithStats(ctx, storetest.Describe)
	if err != nil || st.Versions != 1 || st.Unrecorded != 2 {
		t.Fatalf("Reindex = %+v, %v; want 1 version and the old referrers unrecorded", st, err)
	}
	hasReferrers(t, s, "after Reindex", "webservice", "1.0.0", []string{})
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
