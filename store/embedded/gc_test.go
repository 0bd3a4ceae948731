package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
	"oras.land/oras-go/v2/content"

	"github.com/capcenter/capcenter/store"
	"github.com/capcenter/capcenter/store/storetest"
)

// noGrace makes GC remove unreferenced content whatever its age, so the
// tests check the content lock rather than the grace period.
const noGrace = -1

// pushBlobs pushes data into dst as blobs of mediaType, skipping those it
// holds, and returns their descriptors.
func pushBlobs(t *testing.T, dst content.Storage, mediaType string, data ...[]byte) []ocispec.Descriptor {
	t.Helper()
	var out []ocispec.Descriptor
	for _, d := range data {
		desc := content.NewDescriptorFromBytes(mediaType, d)
		if ok, err := dst.Exists(t.Context(), desc); err != nil {
			t.Fatal(err)
		} else if !ok {
			if err := dst.Push(t.Context(), desc, bytes.NewReader(d)); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, desc)
	}
	return out
}

// signed publishes a fixture of name@version with one signature whose
// envelope is unique to it, and returns the publication and the
// signature's envelope layer.
func signed(t *testing.T, s *Store, name, version string) (store.Publication, ocispec.Descriptor) {
	t.Helper()
	p := storetest.Publication(t, store.Version{Name: name, Version: version})
	staged := p.Content.(content.Storage)
	cfg := pushBlobs(t, staged, "application/vnd.example.signature", []byte("{}"))[0]
	env := pushBlobs(t, staged, "application/jose+json", []byte(`{"payload":"`+name+"@"+version+`"}`))[0]
	raw, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.example.signature", Config: cfg, Layers: []ocispec.Descriptor{env},
		Subject: &ocispec.Descriptor{MediaType: p.Manifest.MediaType, Digest: p.Manifest.Digest, Size: p.Manifest.Size},
	})
	if err != nil {
		t.Fatal(err)
	}
	sig := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	pushBlobs(t, staged, sig.MediaType, raw)
	p.Referrers = []ocispec.Descriptor{sig}
	if s != nil {
		if _, _, err := s.Publish(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	return p, env
}

// failOn serves content but fails on one digest.
type failOn struct {
	content.Fetcher
	dgst digest.Digest
}

func (f failOn) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if desc.Digest == f.dgst {
		return nil, errors.New("unavailable")
	}
	return f.Fetcher.Fetch(ctx, desc)
}

// versionContent returns every blob GC must keep for an indexed version
// besides its state records: manifest, config, layers, publish record and
// its config, referrer records and their configs, referrers and their
// blobs.
func versionContent(t *testing.T, s *Store, name, version string) []digest.Digest {
	t.Helper()
	out, err := contentOf(t.Context(), s, name, version)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// contentOf is versionContent for any goroutine.
func contentOf(ctx context.Context, s *Store, name, version string) ([]digest.Digest, error) {
	var e entry
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		e, err = readStoredEntry(tx, name, version)
		return err
	})
	if err != nil {
		return nil, err
	}
	manifests := []digest.Digest{digest.Digest(e.Version.Digest), digest.Digest(e.Record)}
	for _, r := range e.ReferrerRecords {
		manifests = append(manifests, digest.Digest(r))
	}
	for _, r := range e.Version.Referrers {
		manifests = append(manifests, digest.Digest(r.Digest))
	}
	out := slices.Clone(manifests)
	for _, m := range manifests {
		children, err := s.references(ctx, imageManifest(m))
		if err != nil {
			return nil, err
		}
		for _, c := range children {
			out = append(out, c.Digest)
		}
	}
	return out, nil
}

// verified fails t unless content holds dgst with bytes that match it.
func verified(t *testing.T, s *Store, dgst digest.Digest) {
	t.Helper()
	if err := verify(t.Context(), s, dgst); err != nil {
		t.Error(err)
	}
}

// verify fails unless content holds dgst with bytes that match it.
func verify(ctx context.Context, s *Store, dgst digest.Digest) error {
	rc, err := s.Fetch(ctx, ocispec.Descriptor{Digest: dgst})
	if err != nil {
		return err
	}
	defer rc.Close()
	v := dgst.Verifier()
	if _, err := io.Copy(v, rc); err != nil {
		return fmt.Errorf("%s: %w", dgst, err)
	}
	if !v.Verified() {
		return fmt.Errorf("%s: content does not match its digest", dgst)
	}
	return nil
}

// whole fails unless every blob of an indexed version is stored intact.
func whole(ctx context.Context, s *Store, name, version string) error {
	blobs, err := contentOf(ctx, s, name, version)
	if err != nil {
		return err
	}
	for _, d := range blobs {
		if err := verify(ctx, s, d); err != nil {
			return fmt.Errorf("%s@%s: %w", name, version, err)
		}
	}
	return nil
}

// gone fails t when content still holds dgst.
func gone(t *testing.T, s *Store, what string, dgst digest.Digest) {
	t.Helper()
	if ok, err := s.content.Exists(t.Context(), ocispec.Descriptor{Digest: dgst}); err != nil || ok {
		t.Errorf("%s %s: exists %v, %v after GC; want it removed", what, dgst, ok, err)
	}
}

// storedManifest is a blob in content that parses as a manifest.
type storedManifest struct {
	digest digest.Digest
	m      ocispec.Manifest
}

// manifestsIn returns every blob in s's content that parses as a JSON
// object, as a manifest: callers pick by artifact type or subject.
func manifestsIn(t *testing.T, s *Store) []storedManifest {
	t.Helper()
	blobs, err := s.listBlobs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []storedManifest
	for _, b := range blobs {
		raw, err := s.readSmall(t.Context(), b.digest)
		if err != nil {
			t.Fatal(err)
		}
		var m ocispec.Manifest
		if json.Unmarshal(raw, &m) == nil {
			out = append(out, storedManifest{b.digest, m})
		}
	}
	return out
}

// recordsOf lists the records in content whose subject is manifest.
func recordsOf(t *testing.T, s *Store, manifest digest.Digest) []digest.Digest {
	t.Helper()
	var out []digest.Digest
	for _, sm := range manifestsIn(t, s) {
		m := sm.m
		if m.Subject != nil && m.Subject.Digest == manifest &&
			(m.ArtifactType == publishRecordType || m.ArtifactType == stateRecordType || m.ArtifactType == referrerRecordType) {
			out = append(out, sm.digest, m.Config.Digest)
		}
	}
	return out
}

// countBlobs counts the blob files.
func countBlobs(t *testing.T, s *Store) int {
	t.Helper()
	blobs, err := s.listBlobs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return len(blobs)
}

// gcFixture is a store holding every kind of content GC must keep, and
// every kind it must remove.
type gcFixture struct {
	s       *Store
	keep    []digest.Digest
	orphans map[string]digest.Digest
	ingest  string
	before  []store.Version
}

func newGCFixture(t *testing.T) *gcFixture {
	t.Helper()
	s := mustOpen(t, t.TempDir(), Options{NoSync: true})
	ctx := t.Context()
	f := &gcFixture{s: s, orphans: map[string]digest.Digest{}}

	// Published versions, one with state changes and a later co-signature.
	signed(t, s, "webservice", "1.0.0")
	shared, _ := signed(t, s, "webservice", "1.1.0")
	if _, err := s.SetState(ctx, "webservice", "1.0.0", store.StateChange{Yank: true, Message: "broken"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetState(ctx, "webservice", "1.0.0", store.StateChange{Deprecate: true, Message: "old"}); err != nil {
		t.Fatal(err)
	}
	co := pushManifest(t, shared.Content.(content.Storage), "application/vnd.example.cosign", shared.Manifest)
	if _, err := s.AddReferrer(ctx, "webservice", "1.1.0", co, shared.Content); err != nil {
		t.Fatal(err)
	}

	// A deleted version: everything of it goes, state record included.
	deleted, env := signed(t, s, "worker", "2.0.0")
	if _, err := s.SetState(ctx, "worker", "2.0.0", store.StateChange{Yank: true}); err != nil {
		t.Fatal(err)
	}
	doomed := versionContent(t, s, "worker", "2.0.0")
	doomedRecords := recordsOf(t, s, deleted.Manifest.Digest)
	if err := s.DeleteVersion(ctx, "worker", "2.0.0"); err != nil {
		t.Fatal(err)
	}
	f.orphans["deleted manifest"] = deleted.Manifest.Digest
	f.orphans["deleted signature envelope"] = env.Digest
	for i, d := range doomed[2:4] { // config and readme: unique to the version
		f.orphans[fmt.Sprint("deleted blob ", i)] = d
	}
	for i, d := range doomedRecords {
		f.orphans[fmt.Sprint("deleted record ", i)] = d
	}

	// A failed publish: its config is stored, then a layer cannot be read.
	failed := storetest.Publication(t, store.Version{Name: "failed", Version: "1.0.0"})
	var fm ocispec.Manifest
	raw, err := content.FetchAll(ctx, failed.Content, failed.Manifest)
	if err != nil || json.Unmarshal(raw, &fm) != nil {
		t.Fatal(err)
	}
	failed.Content = failOn{failed.Content, fm.Layers[0].Digest}
	if _, _, err := s.Publish(ctx, failed); err == nil {
		t.Fatal("a publish that cannot read a layer succeeded")
	}
	f.orphans["failed publish config"] = fm.Config.Digest

	// A publish that wrote its record but never committed (a crash of a
	// store older than the outbox).
	crashed, crashedEnv := signed(t, nil, "crashed", "1.0.0")
	batch := s.newBatch()
	v, err := s.pushPublication(ctx, batch, crashed)
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.commit(); err != nil {
		t.Fatal(err)
	}
	rec := pushRecord(t, s, publishRecordType, crashed.Manifest, v.Created, publishRecord{Name: v.Name, Version: v.Version, Created: v.Created})
	f.orphans["uncommitted manifest"] = crashed.Manifest.Digest
	f.orphans["uncommitted record"] = rec.Digest
	f.orphans["uncommitted signature envelope"] = crashedEnv.Digest

	// Plain content: an image in one repository, mounted in another, an
	// index of it, and a layer unlinked but still referenced by the image.
	cfg := []byte(`{"architecture":"amd64"}`)
	layer, unlinked := []byte("layer one"), []byte("layer two")
	for _, b := range [][]byte{cfg, layer, unlinked} {
		desc := content.NewDescriptorFromBytes("application/octet-stream", b)
		if err := s.PushBlob(ctx, "images/app", desc, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		f.keep = append(f.keep, desc.Digest)
	}
	image := f.putManifest(t, "images/app", ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: content.NewDescriptorFromBytes(ocispec.MediaTypeImageConfig, cfg),
		Layers: []ocispec.Descriptor{
			content.NewDescriptorFromBytes(ocispec.MediaTypeImageLayer, layer),
			content.NewDescriptorFromBytes(ocispec.MediaTypeImageLayer, unlinked),
		},
	}, "v1")
	f.putManifest(t, "images/app", ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{image},
	}, "multi")
	if _, err := s.MountBlob(ctx, "images/mirror", "images/app", digest.FromBytes(layer)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBlob(ctx, "images/app", digest.FromBytes(unlinked)); err != nil {
		t.Fatal(err)
	}
	stray := []byte("pushed, then unlinked")
	strayDesc := content.NewDescriptorFromBytes("application/octet-stream", stray)
	if err := s.PushBlob(ctx, "images/app", strayDesc, bytes.NewReader(stray)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBlob(ctx, "images/app", strayDesc.Digest); err != nil {
		t.Fatal(err)
	}
	f.orphans["unlinked plain blob"] = strayDesc.Digest

	// An ingest file left by an interrupted write, an hour old.
	f.ingest = filepath.Join(s.dir, "content", "ingest", strayDesc.Digest.Encoded()+"_left")
	if err := os.WriteFile(f.ingest, []byte("half"), 0o444); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(f.ingest, old, old); err != nil {
		t.Fatal(err)
	}

	for _, v := range []string{"1.0.0", "1.1.0"} {
		f.keep = append(f.keep, versionContent(t, s, "webservice", v)...)
		vv, err := s.GetVersion(ctx, "webservice", v)
		if err != nil {
			t.Fatal(err)
		}
		f.before = append(f.before, vv)
	}
	for _, v := range f.before {
		f.keep = append(f.keep, recordsOf(t, s, digest.Digest(v.Digest))...)
	}
	return f
}

// pushRecord writes a record straight into content, as no commit does.
func pushRecord(t *testing.T, s *Store, artifactType string, subject ocispec.Descriptor, created time.Time, body any) ocispec.Descriptor {
	t.Helper()
	desc, blobs, err := s.key.newRecord(artifactType, subject, created, body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.apply(t.Context(), outboxEntry{Write: blobs}, false); err != nil {
		t.Fatal(err)
	}
	return desc
}

// putManifest stores m as plain content in repo under tag.
func (f *gcFixture) putManifest(t *testing.T, repo string, m any, tag string) ocispec.Descriptor {
	t.Helper()
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var refs manifestRefs
	var mt struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(raw, &refs); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &mt); err != nil {
		t.Fatal(err)
	}
	desc := content.NewDescriptorFromBytes(mt.MediaType, raw)
	sm := store.Manifest{Descriptor: desc, Manifests: refs.Manifests}
	if refs.Config != nil {
		sm.Blobs = append([]ocispec.Descriptor{*refs.Config}, refs.Layers...)
	}
	if err := f.s.PutManifest(t.Context(), repo, sm, raw, tag); err != nil {
		t.Fatal(err)
	}
	f.keep = append(f.keep, desc.Digest)
	return desc
}

func TestGC(t *testing.T) {
	t.Parallel()
	f := newGCFixture(t)
	s, ctx := f.s, t.Context()
	total := countBlobs(t, s)
	// The default grace period spares everything just written.
	st, err := s.GC(ctx, GCOptions{})
	if err != nil || st.Removed != 0 || st.Ingest != 1 || st.Spared < len(f.orphans) || countBlobs(t, s) != total {
		t.Fatalf("GC with the default grace = %+v, %v; want nothing removed but the old ingest file, every orphan spared", st, err)
	}
	if _, err := os.Stat(f.ingest); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ingest leftover: %v; want it removed", err)
	}
	dry, err := s.GC(ctx, GCOptions{DryRun: true, Grace: noGrace})
	if err != nil || dry.Removed < len(f.orphans) || countBlobs(t, s) != total {
		t.Fatalf("dry run = %+v, %v; want at least %d to remove and nothing removed", dry, err, len(f.orphans))
	}
	st, err = s.GC(ctx, GCOptions{Grace: noGrace})
	if err != nil {
		t.Fatal(err)
	}
	after := countBlobs(t, s)
	if st.Removed != dry.Removed || st.Removed != total-after || st.Referenced != after || st.Blobs != total || st.RemovedBytes <= 0 {
		t.Errorf("GC = %+v with %d blobs before and %d after; dry run said %+v", st, total, after, dry)
	}
	for what, d := range f.orphans {
		gone(t, s, what, d)
	}
	for _, d := range f.keep {
		verified(t, s, d)
	}
	if again, err := s.GC(ctx, GCOptions{Grace: noGrace}); err != nil || again.Removed != 0 {
		t.Errorf("second GC = %+v, %v; want nothing left to remove", again, err)
	}
	// The index rebuilt from what GC kept answers as before.
	if err := s.Reindex(ctx, storetest.Describe); err != nil {
		t.Fatal(err)
	}
	for _, want := range f.before {
		got, err := s.GetVersion(ctx, want.Name, want.Version)
		if err != nil || got.Digest != want.Digest || !got.Created.Equal(want.Created) || got.Yanked != want.Yanked ||
			got.Deprecated != want.Deprecated || len(got.Referrers) != len(want.Referrers) {
			t.Errorf("after GC and Reindex %s@%s = %+v, %v; want %+v", want.Name, want.Version, got, err, want)
		}
	}
	for _, gone := range []string{"worker", "crashed", "failed"} {
		if _, err := s.GetCapability(ctx, gone); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after GC and Reindex GetCapability(%s) = %v, want ErrNotFound", gone, err)
		}
	}
}

func TestGCRefusesAMissingManifest(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, t.TempDir(), Options{NoSync: true})
	p, _ := signed(t, s, "webservice", "1.0.0")
	orphan, _ := signed(t, s, "worker", "1.0.0")
	if err := s.DeleteVersion(t.Context(), "worker", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	if err := s.content.Delete(t.Context(), p.Manifest); err != nil {
		t.Fatal(err)
	}
	st, err := s.GC(t.Context(), GCOptions{Grace: noGrace})
	if !errors.Is(err, store.ErrNotFound) || st.Removed != 0 {
		t.Errorf("GC with an indexed manifest missing = %+v, %v; want ErrNotFound and nothing removed", st, err)
	}
	verified(t, s, orphan.Manifest.Digest)
}

func TestGCCanceled(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, t.TempDir(), Options{NoSync: true})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.GC(ctx, GCOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("GC with a canceled context = %v, want context.Canceled", err)
	}
	_ = s.Close()
	if _, err := s.GC(t.Context(), GCOptions{}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("GC after Close = %v, want ErrClosed", err)
	}
}

// TestGCWhilePublishing runs GC in a loop, sparing nothing by age, while 8
// goroutines publish, delete and publish again the same versions: a
// publish after a delete finds the version's blobs still stored and
// reuses them, the case a grace period cannot protect. Every version must
// be whole as soon as its publish returns, and at the end.
func TestGCWhilePublishing(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, t.TempDir(), Options{NoSync: true})
	ctx := t.Context()
	const workers, each, rounds = 8, 6, 4
	pubs := make([][]store.Publication, workers)
	for w := range workers {
		for i := range each {
			p, _ := signed(t, nil, fmt.Sprintf("cap-%d", w), fmt.Sprintf("1.%d.0", i))
			pubs[w] = append(pubs[w], p)
		}
	}
	var (
		done      atomic.Bool
		wg        sync.WaitGroup
		collected atomic.Int64
	)
	gcDone := make(chan error, 1)
	go func() {
		for !done.Load() {
			st, err := s.GC(ctx, GCOptions{Grace: noGrace})
			if err != nil {
				gcDone <- err
				return
			}
			collected.Add(int64(st.Removed))
		}
		gcDone <- nil
	}()
	for w := range workers {
		wg.Go(func() {
			if err := churn(ctx, s, pubs[w], rounds); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	done.Store(true)
	if err := <-gcDone; err != nil {
		t.Fatalf("GC while publishing: %v", err)
	}
	if collected.Load() == 0 {
		t.Error("GC removed nothing while publishing; the test did not exercise it")
	}
	for w := range workers {
		for _, p := range pubs[w] {
			if err := whole(ctx, s, p.Version.Name, p.Version.Version); err != nil {
				t.Error(err)
			}
		}
	}
}

// churn publishes pubs rounds times, checking each version whole once
// published, and deletes them between rounds.
func churn(ctx context.Context, s *Store, pubs []store.Publication, rounds int) error {
	for r := range rounds {
		for _, p := range pubs {
			if _, _, err := s.Publish(ctx, p); err != nil {
				return err
			}
			if err := whole(ctx, s, p.Version.Name, p.Version.Version); err != nil {
				return fmt.Errorf("round %d, right after its publish: %w", r, err)
			}
		}
		if r == rounds-1 {
			break
		}
		for _, p := range pubs {
			if err := s.DeleteVersion(ctx, p.Version.Name, p.Version.Version); err != nil {
				return err
			}
		}
	}
	return nil
}
