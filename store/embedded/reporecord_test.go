package embedded

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
	"oras.land/oras-go/v2/content"

	"github.com/capcenter/capcenter/store"
	"github.com/capcenter/capcenter/store/storetest"
)

// dump copies every key and value of buckets.
func dump(t *testing.T, s *Store, buckets ...[]byte) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			m := map[string]string{}
			if err := tx.Bucket(b).ForEach(func(k, v []byte) error {
				m[string(k)] = string(v)
				return nil
			}); err != nil {
				return err
			}
			out[string(b)] = m
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameBuckets fails the test when got and want differ.
func sameBuckets(t *testing.T, what string, got, want map[string]map[string]string) {
	t.Helper()
	for b, w := range want {
		if !maps.Equal(got[b], w) {
			t.Errorf("%s: bucket %s = %q, want %q", what, b, got[b], w)
		}
	}
}

// rebuild closes s, deletes its index file, opens the store again and
// reindexes it.
func rebuild(t *testing.T, s *Store) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(s.dir, "index.db")); err != nil {
		t.Fatal(err)
	}
	fresh := mustOpen(t, s.dir, Options{NoSync: true})
	if err := fresh.Reindex(t.Context(), storetest.Describe); err != nil {
		t.Fatalf("Reindex: %v", err)
	}
	return fresh
}

// seedPlain pushes plain content of every kind through every call: images
// with tags, an index, a referrer, mounts, a tag move, deletes.
func seedPlain(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	cfg := pushPlainBlob(t, s, "mirror/app", []byte(`{"architecture":"amd64"}`))
	l1 := pushPlainBlob(t, s, "mirror/app", []byte("layer one"))
	l2 := pushPlainBlob(t, s, "mirror/app", []byte("layer two"))
	pushPlainBlob(t, s, "mirror/app", []byte("pushed, never referenced"))
	gone := pushPlainBlob(t, s, "mirror/app", []byte("pushed, then unlinked"))
	if err := s.DeleteBlob(ctx, "mirror/app", gone.Digest); err != nil {
		t.Fatal(err)
	}
	v1, raw1 := plainImage(t, "", nil, cfg, l1)
	v2, raw2 := plainImage(t, "", nil, cfg, l1, l2)
	for _, put := range []struct {
		m    store.Manifest
		raw  []byte
		tags []string
	}{{v1, raw1, []string{"v1", "stable"}}, {v2, raw2, []string{"v2"}}, {v2, raw2, []string{"stable"}}} { // stable moves
		if err := s.PutManifest(ctx, "mirror/app", put.m, put.raw, put.tags...); err != nil {
			t.Fatal(err)
		}
	}
	idxRaw, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{v1.Descriptor, v2.Descriptor},
	})
	if err != nil {
		t.Fatal(err)
	}
	idx := store.Manifest{
		Descriptor: content.NewDescriptorFromBytes(ocispec.MediaTypeImageIndex, idxRaw),
		Manifests:  []ocispec.Descriptor{v1.Descriptor, v2.Descriptor},
	}
	if err := s.PutManifest(ctx, "mirror/app", idx, idxRaw, "multi"); err != nil {
		t.Fatal(err)
	}
	sbom, sbomRaw := plainImage(t, "application/vnd.example.sbom", &v2.Descriptor, cfg)
	if err := s.PutManifest(ctx, "mirror/app", sbom, sbomRaw); err != nil {
		t.Fatal(err)
	}
	old, oldRaw := plainImage(t, "application/vnd.example.sbom", &v1.Descriptor, cfg)
	if err := s.PutManifest(ctx, "mirror/app", old, oldRaw, "old"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteManifest(ctx, "mirror/app", old.Descriptor.Digest); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTag(ctx, "mirror/app", "v1"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []ocispec.Descriptor{cfg, l1} {
		if _, err := s.MountBlob(ctx, "mirror/copy", "mirror/app", d.Digest); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutManifest(ctx, "mirror/copy", v1, raw1, "v1"); err != nil {
		t.Fatal(err)
	}
	// A repository that empties itself disappears, and stays gone.
	tmp := pushPlainBlob(t, s, "scratch", []byte("scratch"))
	if err := s.DeleteBlob(ctx, "scratch", tmp.Digest); err != nil {
		t.Fatal(err)
	}
}

// TestReindexRebuildsPlainContent loses the index file after plain
// content went through every call, and checks that Reindex rebuilds every
// plain-content bucket byte for byte.
func TestReindexRebuildsPlainContent(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, t.TempDir(), Options{NoSync: true})
	seedPlain(t, s)
	signed(t, s, "webservice", "1.0.0") // capability content beside it
	want := dump(t, s, ociBuckets...)
	if len(want["oci.tags"]) != 4 || len(want["oci.subjects"]) != 1 || len(want["oci.repos"]) != 2 {
		t.Fatalf("seed = %q; want 4 tags, 1 referrer, 2 repositories", want)
	}
	if err := s.Reindex(t.Context(), storetest.Describe); err != nil {
		t.Fatal(err)
	}
	sameBuckets(t, "after Reindex in place", dump(t, s, ociBuckets...), want)
	s = rebuild(t, s)
	sameBuckets(t, "after Reindex without the index file", dump(t, s, ociBuckets...), want)

	// GC keeps the records: once more, after it.
	if _, err := s.GC(t.Context(), GCOptions{Grace: -1}); err != nil {
		t.Fatal(err)
	}
	s = rebuild(t, s)
	sameBuckets(t, "after GC and Reindex", dump(t, s, ociBuckets...), want)

	// The sequence goes on past the records replayed.
	pushPlainBlob(t, s, "mirror/app", []byte("after the rebuild"))
	want = dump(t, s, ociBuckets...)
	s = rebuild(t, s)
	sameBuckets(t, "after a push following a rebuild", dump(t, s, ociBuckets...), want)
}

// TestAdoptPlainContent opens an index whose plain content predates
// repository records and checks that Open records it, so that Reindex
// rebuilds it.
func TestAdoptPlainContent(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, t.TempDir(), Options{NoSync: true})
	seedPlain(t, s)
	want := dump(t, s, ociBuckets...)
	// Forget every record: as if written by a store without them.
	err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(adoptedKey) })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, b := range listRecords(t, s.dir) {
		if err := os.Remove(b); err != nil {
			t.Fatal(err)
		}
	}
	s = mustOpen(t, s.dir, Options{NoSync: true})
	if n := len(listRecords(t, s.dir)); n == 0 {
		t.Fatal("Open recorded nothing")
	}
	s = rebuild(t, s)
	sameBuckets(t, "after adoption and Reindex", dump(t, s, ociBuckets...), want)
}

// listRecords lists the repository record files under dir.
func listRecords(t *testing.T, dir string) []string {
	t.Helper()
	root := filepath.Join(dir, "content", ocispec.ImageBlobsDir, "sha256")
	files, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(root, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(repoRecordType)) {
			out = append(out, filepath.Join(root, f.Name()))
		}
	}
	return out
}

// TestPutManifestRefusesRecordTypes checks that no one stores a manifest
// Reindex would read as one of the store's records.
func TestPutManifestRefusesRecordTypes(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, t.TempDir(), Options{NoSync: true})
	cfg := pushPlainBlob(t, s, "forged", []byte("{}"))
	for _, typ := range []string{repoRecordType, publishRecordType, stateRecordType} {
		m, raw := plainImage(t, typ, nil, cfg)
		wantErr(t, typ, s.PutManifest(t.Context(), "forged", m, raw), store.ErrInvalidArgument)
	}
}
