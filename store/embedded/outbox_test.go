package embedded

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
	"oras.land/oras-go/v2/content"

	"github.com/capcenter/capcenter/store"
)

// digestOf is the digest of s.
func digestOf(s string) digest.Digest { return digest.FromString(s) }

// breakIngest makes every content write of s fail (the ingest folder
// becomes a file, which stops root too) until the returned func mends it.
func breakIngest(t *testing.T, s *Store) func() {
	t.Helper()
	dir := filepath.Join(s.dir, "content", "ingest")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
	}
}

// versionOf reads name@version, failing the test on error.
func versionOf(t *testing.T, s *Store, name, version string) store.Version {
	t.Helper()
	v, err := s.GetVersion(t.Context(), name, version)
	if err != nil {
		t.Fatalf("GetVersion(%s@%s): %v", name, version, err)
	}
	return v
}

// TestCutBeforeRecord commits changes whose records then cannot be
// written, as when capd is killed between the commit and the record, and
// checks that reopening writes the records: the live index and one
// rebuilt from content answer the same.
func TestCutBeforeRecord(t *testing.T) {
	t.Parallel()
	cuts := []struct {
		name   string
		change func(ctx context.Context, s *Store) error
		check  func(t *testing.T, s *Store)
	}{{
		name: "yank",
		change: func(ctx context.Context, s *Store) error {
			_, err := s.SetState(ctx, "webservice", "1.0.0", store.StateChange{Yank: true, Message: "CVE"})
			return err
		},
		check: func(t *testing.T, s *Store) {
			if v := versionOf(t, s, "webservice", "1.0.0"); !v.Yanked || v.YankReason != "CVE" {
				t.Errorf("webservice@1.0.0 = yanked %v %q, want yanked CVE", v.Yanked, v.YankReason)
			}
		},
	}, {
		name: "delete version",
		change: func(_ context.Context, s *Store) error {
			// Removing a file cannot be made to fail here: commit alone.
			if _, _, err := s.commitDelete("webservice", "1.0.0"); err != nil {
				return err
			}
			return errors.New("cut")
		},
		check: func(t *testing.T, s *Store) {
			if _, err := s.GetVersion(t.Context(), "webservice", "1.0.0"); err == nil {
				t.Error("a deleted version is back")
			}
		},
	}, {
		name: "mount",
		change: func(ctx context.Context, s *Store) error {
			_, err := s.MountBlob(ctx, "mirror/third", "mirror/app", digestOf("layer one"))
			return err
		},
		check: func(t *testing.T, s *Store) {
			if _, err := s.StatBlob(t.Context(), "mirror/third", digestOf("layer one")); err != nil {
				t.Errorf("the mounted blob: %v", err)
			}
		},
	}, {
		name: "untag",
		change: func(ctx context.Context, s *Store) error {
			return s.DeleteTag(ctx, "mirror/app", "stable")
		},
		check: func(t *testing.T, s *Store) {
			if _, err := s.ResolveManifest(t.Context(), "mirror/app", "stable"); err == nil {
				t.Error("a deleted tag is back")
			}
		},
	}}
	for _, tc := range cuts {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := mustOpen(t, t.TempDir(), Options{NoSync: true})
			seedPlain(t, s)
			signed(t, s, "webservice", "1.0.0")
			signed(t, s, "webservice", "1.1.0")
			mend := breakIngest(t, s)
			if err := tc.change(t.Context(), s); err == nil {
				t.Fatal("the change wrote its record into a broken content folder")
			}
			tc.check(t, s) // committed all the same
			// The process dies; the next one finds the ingest folder mended.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			mend()
			s = mustOpen(t, s.dir, Options{NoSync: true})
			tc.check(t, s)
			live := snapshotOf(t, s)
			s = rebuild(t, s)
			tc.check(t, s)
			if got := snapshotOf(t, s); !reflect.DeepEqual(got, live) {
				t.Errorf("rebuilt index:\n%+v\nlive index:\n%+v", got, live)
			}
		})
	}
}

// indexSnapshot is what a store answers about everything in it.
type indexSnapshot struct {
	Versions []store.Version
	Plain    map[string]map[string]string
}

// snapshotOf reads every version of webservice and the plain buckets.
func snapshotOf(t *testing.T, s *Store) indexSnapshot {
	t.Helper()
	p, err := s.ListVersions(t.Context(), "webservice", store.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	snap := indexSnapshot{Plain: dump(t, s, ociBuckets...)}
	for _, v := range p.Items {
		snap.Versions = append(snap.Versions, versionOf(t, s, v.Name, v.Version))
	}
	return snap
}

// TestEveryWriteIsIngested checks that every content file, whatever call
// wrote it, went through the store's synced ingest (which leaves blobs
// read-only, unlike oras-go's Push), and that no directory is left
// unsynced when the calls return.
func TestEveryWriteIsIngested(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, t.TempDir(), Options{})
	seedPlain(t, s)
	p, _ := signed(t, s, "webservice", "1.0.0")
	co := pushManifest(t, p.Content.(content.Storage), "application/vnd.example.cosign", p.Manifest)
	if _, err := s.AddReferrer(t.Context(), "webservice", "1.0.0", co, p.Content); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetState(t.Context(), "webservice", "1.0.0", store.StateChange{Deprecate: true}); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(s.dir, "content", "blobs", "sha256")
	files, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		info, err := f.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o444 {
			t.Errorf("%s has mode %v: not written by ingest", f.Name(), info.Mode())
		}
	}
	// What is not synced yet is promised: records wait for a checkpoint.
	var n int
	err = s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketOutbox).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if kept := len(s.outbox.take(true)); n == 0 || n != kept {
		t.Errorf("%d promises in the outbox, %d kept; want as many, and some", n, kept)
	}
}

// TestCloseCheckpoints checks that Close syncs what it must and empties
// the outbox, and that a checkpoint comes every checkpointEvery promises.
func TestCloseCheckpoints(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, t.TempDir(), Options{})
	outboxSize := func() int {
		var n int
		err := s.db.View(func(tx *bolt.Tx) error {
			n = tx.Bucket(bucketOutbox).Stats().KeyN
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i := range checkpointEvery + 1 {
		pushPlainBlob(t, s, "r", []byte{byte(i)})
	}
	if n := outboxSize(); n >= checkpointEvery+1 || n == 0 {
		t.Errorf("%d promises after %d pushes; want a checkpoint on the way", n, checkpointEvery+1)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(s.dirs.dirty) != 0 {
		t.Errorf("directories left unsynced: %v", s.dirs.dirty)
	}
	s = mustOpen(t, s.dir, Options{})
	if n := outboxSize(); n != 0 {
		t.Errorf("%d promises after Close", n)
	}
}

// TestTornRecordRewritten loses the bytes of a record written but not yet
// synced, as a power loss may, and checks that the next Open writes it
// again from its promise, so that a rebuilt index still has the change.
func TestTornRecordRewritten(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, t.TempDir(), Options{NoSync: true})
	signed(t, s, "webservice", "1.0.0")
	if _, err := s.SetState(t.Context(), "webservice", "1.0.0", store.StateChange{Yank: true, Message: "CVE"}); err != nil {
		t.Fatal(err)
	}
	kept := s.outbox.take(true)
	if len(kept) == 0 {
		t.Fatal("no record waits for a checkpoint")
	}
	last := kept[len(kept)-1].paths
	for _, p := range last {
		if err := os.Truncate(p, 0); err != nil {
			t.Fatal(err)
		}
	}
	// The power goes: no checkpoint, no Close.
	s.closed.Store(true)
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, s.dir, Options{NoSync: true})
	for _, p := range last {
		raw, err := os.ReadFile(p)
		if err != nil || digest.FromBytes(raw).Encoded() != filepath.Base(p) {
			t.Fatalf("%s after Open: %d bytes, %v; want its bytes back", p, len(raw), err)
		}
	}
	s = rebuild(t, s)
	if v := versionOf(t, s, "webservice", "1.0.0"); !v.Yanked {
		t.Error("the yank is lost")
	}
}
