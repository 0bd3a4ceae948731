package embedded

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/capcenter/capcenter/store"
	"github.com/capcenter/capcenter/store/storetest"
)

// pushPlainBlob pushes data to repo and returns its descriptor.
func pushPlainBlob(t *testing.T, s *Store, repo string, data []byte) ocispec.Descriptor {
	t.Helper()
	desc := content.NewDescriptorFromBytes("application/octet-stream", data)
	if err := s.PushBlob(t.Context(), repo, desc, bytes.NewReader(data)); err != nil {
		t.Fatalf("PushBlob(%s): %v", repo, err)
	}
	return desc
}

// plainImage builds an image manifest over config and layers, with an
// optional subject, as the distribution API would hand it to the store.
func plainImage(t *testing.T, artifactType string, subject *ocispec.Descriptor, config ocispec.Descriptor, layers ...ocispec.Descriptor) (store.Manifest, []byte) {
	t.Helper()
	raw, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType, Config: config, Layers: append([]ocispec.Descriptor{}, layers...), Subject: subject,
	})
	if err != nil {
		t.Fatal(err)
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	desc.ArtifactType = artifactType
	return store.Manifest{Descriptor: desc, Subject: subject, Blobs: append([]ocispec.Descriptor{config}, layers...)}, raw
}

func wantErr(t *testing.T, what string, err, sentinel error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: got %v, want %v", what, err, sentinel)
	}
}

// TestPlainRepositories walks plain content through every method: blobs
// are per repository, manifests need their blobs, tags and referrers
// follow manifests, and an emptied repository disappears.
func TestPlainRepositories(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := mustOpen(t, t.TempDir(), Options{NoSync: true})

	cfg := pushPlainBlob(t, s, "mirror/app", []byte(`{"architecture":"amd64"}`))
	layer := pushPlainBlob(t, s, "mirror/app", []byte("layer bytes"))
	if d, err := s.StatBlob(ctx, "mirror/app", layer.Digest); err != nil || d.Size != layer.Size {
		t.Fatalf("StatBlob = %v, %v; want size %d", d, err, layer.Size)
	}
	_, err := s.StatBlob(ctx, "other", layer.Digest)
	wantErr(t, "a blob pushed to another repository", err, store.ErrNotFound)

	bad := content.NewDescriptorFromBytes("application/octet-stream", []byte("what was promised"))
	err = s.PushBlob(ctx, "mirror/app", bad, strings.NewReader("something else, longer"))
	wantErr(t, "bytes that do not match", err, store.ErrInvalidArgument)
	// The same digest again, when the content already holds the blob from
	// another repository, is still checked.
	err = s.PushBlob(ctx, "thief", layer, strings.NewReader("not the layer"))
	wantErr(t, "a known digest with other bytes", err, store.ErrInvalidArgument)
	_, err = s.StatBlob(ctx, "thief", layer.Digest)
	wantErr(t, "a refused blob", err, store.ErrNotFound)

	if _, err := s.MountBlob(ctx, "mirror/copy", "mirror/app", layer.Digest); err != nil {
		t.Fatalf("MountBlob: %v", err)
	}
	_, err = s.MountBlob(ctx, "mirror/copy", "nowhere", cfg.Digest)
	wantErr(t, "mounting from a repository without the blob", err, store.ErrNotFound)

	m, raw := plainImage(t, "", nil, cfg, layer)
	err = s.PutManifest(ctx, "mirror/copy", m, raw, "v1")
	wantErr(t, "a manifest whose config is not in the repository", err, store.ErrNotFound)
	if err := s.PutManifest(ctx, "mirror/app", m, raw, "v1", "stable"); err != nil {
		t.Fatalf("PutManifest: %v", err)
	}
	for _, ref := range []string{"v1", "stable", m.Descriptor.Digest.String()} {
		d, err := s.ResolveManifest(ctx, "mirror/app", ref)
		if err != nil || d.Digest != m.Descriptor.Digest || d.Size != int64(len(raw)) || d.MediaType != ocispec.MediaTypeImageManifest {
			t.Fatalf("ResolveManifest(%s) = %+v, %v", ref, d, err)
		}
	}
	tampered := append(slices.Clone(raw), ' ')
	err = s.PutManifest(ctx, "mirror/app", m, tampered)
	wantErr(t, "bytes that do not match the descriptor", err, store.ErrInvalidArgument)

	// A referrer of the plain image, and the tag list's paging.
	sig, sigRaw := plainImage(t, "application/vnd.example.sbom", &m.Descriptor, cfg)
	if err := s.PutManifest(ctx, "mirror/app", sig, sigRaw); err != nil {
		t.Fatalf("PutManifest(referrer): %v", err)
	}
	refs, err := s.Referrers(ctx, "mirror/app", m.Descriptor.Digest)
	if err != nil || len(refs) != 1 || refs[0].Digest != sig.Descriptor.Digest || refs[0].ArtifactType != "application/vnd.example.sbom" {
		t.Fatalf("Referrers = %+v, %v", refs, err)
	}
	if refs, _ := s.Referrers(ctx, "mirror/copy", m.Descriptor.Digest); len(refs) != 0 {
		t.Fatalf("Referrers in another repository = %+v", refs)
	}
	for _, tc := range []struct {
		last string
		n    int
		want []string
	}{{"", 0, []string{"stable", "v1"}}, {"", 1, []string{"stable"}}, {"stable", 5, []string{"v1"}}, {"v1", 0, []string{}}} {
		got, err := s.Tags(ctx, "mirror/app", tc.last, tc.n)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Fatalf("Tags(last=%q, n=%d) = %q, %v; want %q", tc.last, tc.n, got, err, tc.want)
		}
	}
	_, err = s.Tags(ctx, "never/pushed", "", 0)
	wantErr(t, "tags of an unknown repository", err, store.ErrNotFound)

	// Deleting the manifest takes its tags with it; the referrer's own
	// entry stays (the spec lets registries keep referrers of deleted
	// subjects) until it is deleted too.
	if err := s.DeleteManifest(ctx, "mirror/app", m.Descriptor.Digest); err != nil {
		t.Fatalf("DeleteManifest: %v", err)
	}
	_, err = s.ResolveManifest(ctx, "mirror/app", "v1")
	wantErr(t, "a tag of a deleted manifest", err, store.ErrNotFound)
	wantErr(t, "deleting again", s.DeleteManifest(ctx, "mirror/app", m.Descriptor.Digest), store.ErrNotFound)
	wantErr(t, "deleting a tag that went with its manifest", s.DeleteTag(ctx, "mirror/app", "stable"), store.ErrNotFound)
	if err := s.DeleteManifest(ctx, "mirror/app", sig.Descriptor.Digest); err != nil {
		t.Fatalf("DeleteManifest(referrer): %v", err)
	}
	if refs, _ := s.Referrers(ctx, "mirror/app", m.Descriptor.Digest); len(refs) != 0 {
		t.Fatalf("Referrers after the referrer was deleted = %+v", refs)
	}

	repos, err := s.ListRepositories(ctx, "", 0)
	if err != nil || !slices.Equal(repos, []string{"mirror/app", "mirror/copy"}) {
		t.Fatalf("ListRepositories = %q, %v", repos, err)
	}
	for _, b := range []struct {
		repo string
		desc ocispec.Descriptor
	}{{"mirror/app", cfg}, {"mirror/app", layer}, {"mirror/copy", layer}} {
		if err := s.DeleteBlob(ctx, b.repo, b.desc.Digest); err != nil {
			t.Fatalf("DeleteBlob(%s, %s): %v", b.repo, b.desc.Digest, err)
		}
	}
	wantErr(t, "deleting a blob twice", s.DeleteBlob(ctx, "mirror/app", cfg.Digest), store.ErrNotFound)
	if repos, _ := s.ListRepositories(ctx, "", 0); len(repos) != 0 {
		t.Fatalf("ListRepositories after deleting everything = %q", repos)
	}
	if caps, _ := s.ListCapabilities(ctx, store.Query{}); caps.Total != 0 {
		t.Fatalf("plain content entered the catalog: %+v", caps)
	}
}

// manifestOf reads the manifest of a publication.
func manifestOf(t *testing.T, p store.Publication) ocispec.Manifest {
	t.Helper()
	raw, err := content.FetchAll(t.Context(), p.Content, p.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCapabilityRepository checks that a published capability reads as a
// repository — tags, latest, digests, blobs, referrers — that a second
// version shows up at once, and that plain writes cannot touch it.
func TestCapabilityRepository(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := mustOpen(t, t.TempDir(), Options{NoSync: true})
	p1 := storetest.Publication(t, store.Version{Name: "acme/gateway", Version: "1.0.0"})
	if _, _, err := s.Publish(ctx, p1); err != nil {
		t.Fatal(err)
	}
	staging := memory.New()
	sig := pushManifest(t, staging, "application/vnd.example.signature", p1.Manifest)
	if _, err := s.AddReferrer(ctx, "acme/gateway", "1.0.0", sig, staging); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"1.0.0", "latest", p1.Manifest.Digest.String()} {
		d, err := s.ResolveManifest(ctx, "acme/gateway", ref)
		if err != nil || d.Digest != p1.Manifest.Digest || d.Size != p1.Manifest.Size || d.ArtifactType != storetest.ArtifactType {
			t.Fatalf("ResolveManifest(%s) = %+v, %v", ref, d, err)
		}
	}
	if d, err := s.ResolveManifest(ctx, "acme/gateway", sig.Digest.String()); err != nil || d.Digest != sig.Digest {
		t.Fatalf("ResolveManifest(signature) = %+v, %v", d, err)
	}
	_, err := s.ResolveManifest(ctx, "webservice", p1.Manifest.Digest.String())
	wantErr(t, "a bundle digest in another repository", err, store.ErrNotFound)
	m1 := manifestOf(t, p1)
	for _, b := range append([]ocispec.Descriptor{m1.Config}, m1.Layers...) {
		if d, err := s.StatBlob(ctx, "acme/gateway", b.Digest); err != nil || d.Size != b.Size {
			t.Fatalf("StatBlob(%s) = %+v, %v", b.Digest, d, err)
		}
		_, err := s.StatBlob(ctx, "acme/other", b.Digest)
		wantErr(t, "a bundle blob in another repository", err, store.ErrNotFound)
	}
	refs, err := s.Referrers(ctx, "acme/gateway", p1.Manifest.Digest)
	if err != nil || len(refs) != 1 || refs[0].Digest != sig.Digest || refs[0].ArtifactType != "application/vnd.example.signature" {
		t.Fatalf("Referrers = %+v, %v", refs, err)
	}

	// The link cache must see a version published after it was built.
	p2 := storetest.Publication(t, store.Version{Name: "acme/gateway", Version: "1.1.0+build.7", Readme: "new"})
	if _, _, err := s.Publish(ctx, p2); err != nil {
		t.Fatal(err)
	}
	m2 := manifestOf(t, p2)
	if _, err := s.StatBlob(ctx, "acme/gateway", m2.Layers[0].Digest); err != nil {
		t.Fatalf("StatBlob of the new version's layer: %v", err)
	}
	if d, err := s.ResolveManifest(ctx, "acme/gateway", "1.1.0_build.7"); err != nil || d.Digest != p2.Manifest.Digest {
		t.Fatalf("ResolveManifest(1.1.0_build.7) = %+v, %v", d, err)
	}
	tags, err := s.Tags(ctx, "acme/gateway", "", 0)
	if want := []string{"1.0.0", "1.1.0_build.7", "latest"}; err != nil || !slices.Equal(tags, want) {
		t.Fatalf("Tags = %q, %v; want %q", tags, err, want)
	}

	// Plain writes cannot take a version's tag, store a bundle or a
	// bundle's referrer, or delete what a version owns.
	cfg := pushPlainBlob(t, s, "acme/gateway", []byte("{}"))
	img, raw := plainImage(t, "", nil, cfg)
	wantErr(t, "tagging a plain manifest with a version", s.PutManifest(ctx, "acme/gateway", img, raw, "1.0.0"), store.ErrInUse)
	wantErr(t, "tagging a plain manifest latest", s.PutManifest(ctx, "acme/gateway", img, raw, "latest"), store.ErrInUse)
	bundle, raw := plainImage(t, storetest.ArtifactType, nil, cfg)
	wantErr(t, "a bundle as plain content", s.PutManifest(ctx, "acme/gateway", bundle, raw), store.ErrInvalidArgument)
	ref, raw := plainImage(t, "application/vnd.example.sbom", &p1.Manifest, cfg)
	wantErr(t, "a bundle's referrer as plain content", s.PutManifest(ctx, "acme/gateway", ref, raw), store.ErrInvalidArgument)
	wantErr(t, "deleting a bundle blob", s.DeleteBlob(ctx, "acme/gateway", m1.Layers[0].Digest), store.ErrInUse)
	wantErr(t, "deleting a bundle manifest", s.DeleteManifest(ctx, "acme/gateway", p1.Manifest.Digest), store.ErrInUse)
	wantErr(t, "deleting a signature", s.DeleteManifest(ctx, "acme/gateway", sig.Digest), store.ErrInUse)
	wantErr(t, "deleting a version tag", s.DeleteTag(ctx, "acme/gateway", "1.0.0"), store.ErrInUse)
	if err := s.PutManifest(ctx, "acme/gateway", img, raw[:0:0]); err == nil {
		t.Fatal("PutManifest with no bytes succeeded")
	}
	repos, err := s.ListRepositories(ctx, "", 0)
	if err != nil || !slices.Equal(repos, []string{"acme/gateway"}) {
		t.Fatalf("ListRepositories = %q, %v", repos, err)
	}
}

// TestDeleteVersion checks that a deleted version leaves the index, the
// catalog and its repository at once, stays deleted after Reindex, and
// can be published again.
func TestDeleteVersion(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := mustOpen(t, t.TempDir(), Options{NoSync: true})
	p1 := storetest.Publication(t, store.Version{Name: "worker", Version: "1.0.0"})
	p2 := storetest.Publication(t, store.Version{Name: "worker", Version: "2.0.0"})
	for _, p := range []store.Publication{p1, p2} {
		if _, _, err := s.Publish(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// Reading the repository first fills the link cache, which the delete
	// must drop.
	m2 := manifestOf(t, p2)
	if _, err := s.StatBlob(ctx, "worker", m2.Config.Digest); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteVersion(ctx, "worker", "2.0.0"); err != nil {
		t.Fatalf("DeleteVersion: %v", err)
	}
	check := func(when string) {
		t.Helper()
		_, err := s.GetVersion(ctx, "worker", "2.0.0")
		wantErr(t, when+": GetVersion", err, store.ErrNotFound)
		c, err := s.GetCapability(ctx, "worker")
		if err != nil || c.Latest != "1.0.0" || c.Versions != 1 {
			t.Fatalf("%s: GetCapability = %+v, %v", when, c, err)
		}
		if d, err := s.ResolveManifest(ctx, "worker", "latest"); err != nil || d.Digest != p1.Manifest.Digest {
			t.Fatalf("%s: latest = %+v, %v", when, d, err)
		}
		_, err = s.ResolveManifest(ctx, "worker", p2.Manifest.Digest.String())
		wantErr(t, when+": the deleted manifest", err, store.ErrNotFound)
		_, err = s.StatBlob(ctx, "worker", m2.Config.Digest)
		wantErr(t, when+": the deleted version's config", err, store.ErrNotFound)
	}
	check("after delete")
	if err := s.Reindex(ctx, storetest.Describe); err != nil {
		t.Fatal(err)
	}
	check("after reindex")
	wantErr(t, "deleting it again", s.DeleteVersion(ctx, "worker", "2.0.0"), store.ErrNotFound)

	if err := s.DeleteVersion(ctx, "worker", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetCapability(ctx, "worker")
	wantErr(t, "the capability without versions", err, store.ErrNotFound)
	if repos, _ := s.ListRepositories(ctx, "", 0); len(repos) != 0 {
		t.Fatalf("ListRepositories = %q", repos)
	}
	if _, created, err := s.Publish(ctx, p2); err != nil || !created {
		t.Fatalf("publishing a deleted version again: created %v, %v", created, err)
	}
	if d, err := s.ResolveManifest(ctx, "worker", "2.0.0"); err != nil || d.Digest != p2.Manifest.Digest {
		t.Fatalf("ResolveManifest after re-publish = %+v, %v", d, err)
	}
}

// TestPlainContentSurvivesReindex checks that Reindex, which rebuilds the
// capability index from content, keeps plain repositories as they were.
func TestPlainContentSurvivesReindex(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{NoSync: true})
	cfg := pushPlainBlob(t, s, "mirror/app", []byte("{}"))
	m, raw := plainImage(t, "", nil, cfg)
	if err := s.PutManifest(ctx, "mirror/app", m, raw, "v1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Reindex(ctx, storetest.Describe); err != nil {
		t.Fatal(err)
	}
	if d, err := s.ResolveManifest(ctx, "mirror/app", "v1"); err != nil || d.Digest != m.Descriptor.Digest {
		t.Fatalf("ResolveManifest after Reindex = %+v, %v", d, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, Options{NoSync: true})
	if d, err := s.StatBlob(ctx, "mirror/app", cfg.Digest); err != nil || d.Digest != digest.Digest(cfg.Digest) {
		t.Fatalf("StatBlob after reopening = %+v, %v", d, err)
	}
}
