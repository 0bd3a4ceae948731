package embedded

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
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

// dumpAll copies every bucket of the index but the outbox and meta.
func dumpAll(t *testing.T, s *Store) map[string]map[string]string {
	t.Helper()
	return dump(t, s, slices.Concat(allBuckets, ociBuckets)...)
}

// genuine is a store with a signed, deprecated capability and plain
// content of every kind, and what its index holds.
func genuine(t *testing.T) (*Store, map[string]map[string]string) {
	t.Helper()
	s := mustOpen(t, t.TempDir(), Options{NoSync: true})
	seedPlain(t, s)
	signed(t, s, "webservice", "1.0.0")
	if _, err := s.SetState(t.Context(), "webservice", "1.0.0", store.StateChange{Deprecate: true, Message: "use 2"}); err != nil {
		t.Fatal(err)
	}
	return s, dumpAll(t, s)
}

// record builds a record manifest as an attacker would, without the key,
// and its config; mac sets (or not) its MAC annotation.
func record(t *testing.T, artifactType string, subject *ocispec.Descriptor, body any, annotations map[string]string, mac func(*ocispec.Manifest)) (cfg, manifest []byte) {
	t.Helper()
	cfg, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType, Config: content.NewDescriptorFromBytes(artifactType, cfg),
		Layers: []ocispec.Descriptor{}, Subject: subject, Annotations: annotations,
	}
	if artifactType == repoRecordType { // as the store writes them
		m.Config = ocispec.DescriptorEmptyJSON
		m.Config.Data = nil
	}
	mac(&m)
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, raw
}

// pushAsBlobs pushes each of data with PushBlob into repo, the way any
// principal allowed to push to repo can.
func pushAsBlobs(t *testing.T, s *Store, repo string, data ...[]byte) {
	t.Helper()
	for _, d := range data {
		pushPlainBlob(t, s, repo, d)
	}
}

// macOf reads the MAC annotation of the record manifest dgst.
func macOf(t *testing.T, s *Store, dgst digest.Digest) string {
	t.Helper()
	raw, err := s.readSmall(t.Context(), dgst)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	mac := m.Annotations[recordMACAnnotation]
	if mac == "" {
		t.Fatalf("record %s has no MAC", dgst)
	}
	return mac
}

// TestReindexIgnoresForgedRecords pushes, as blobs, records of every kind
// that the store did not write (no MAC, a MAC under another key, and a
// genuine record's MAC copied onto a changed record), and checks that
// neither Reindex (in place or without the index file) nor GC acts on
// them.
func TestReindexIgnoresForgedRecords(t *testing.T) {
	t.Parallel()
	other := newRecordKey(bytes.Repeat([]byte{7}, keySize))
	for _, tc := range []struct {
		name string
		mac  func(t *testing.T, s *Store, genuine map[string]string) func(*ocispec.Manifest)
	}{
		{"no MAC", func(*testing.T, *Store, map[string]string) func(*ocispec.Manifest) {
			return func(*ocispec.Manifest) {}
		}},
		{"another key", func(*testing.T, *Store, map[string]string) func(*ocispec.Manifest) {
			return func(m *ocispec.Manifest) {
				if m.Annotations == nil {
					m.Annotations = map[string]string{}
				}
				other.seal(m)
			}
		}},
		{"copied MAC", func(t *testing.T, s *Store, genuine map[string]string) func(*ocispec.Manifest) {
			return func(m *ocispec.Manifest) {
				if m.Annotations == nil {
					m.Annotations = map[string]string{}
				}
				m.Annotations[recordMACAnnotation] = genuine[m.ArtifactType]
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := genuine(t)
			forged := forgeAll(t, s, tc.mac(t, s, genuineMACs(t, s)))
			// The pushes are plain content of team-a/app: that much changes.
			want := dumpAll(t, s)
			st, err := s.ReindexWithStats(t.Context(), storetest.Describe)
			if err != nil {
				t.Fatal(err)
			}
			if st.Unauthenticated != len(forged) || st.Versions != 1 || st.Unrecorded != 1 {
				t.Errorf("Reindex stats = %+v, want 1 version, %d unauthenticated and the forged signature unrecorded", st, len(forged))
			}
			sameBuckets(t, "after Reindex in place", dumpAll(t, s), want)
			s = rebuild(t, s)
			sameBuckets(t, "after Reindex without the index file", dumpAll(t, s), want)
			notForged(t, s)

			// Unlinked, the forged records are garbage, which GC removes.
			for _, d := range forged {
				if err := s.DeleteBlob(t.Context(), "team-a/app", d); err != nil {
					t.Fatal(err)
				}
			}
			want = dumpAll(t, s)
			gc, err := s.GC(t.Context(), GCOptions{Grace: -1})
			if err != nil {
				t.Fatal(err)
			}
			if gc.Unauthenticated != len(forged) {
				t.Errorf("GC stats = %+v, want %d unauthenticated", gc, len(forged))
			}
			if st, err := s.ReindexWithStats(t.Context(), storetest.Describe); err != nil || st.Unauthenticated != 0 {
				t.Errorf("Reindex after GC = %+v, %v; want the forged records gone", st, err)
			}
			sameBuckets(t, "after GC and Reindex", dumpAll(t, s), want)
			notForged(t, s)
		})
	}
}

// notForged fails the test when what forgeAll claims is in the index.
func notForged(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	if _, err := s.GetVersion(ctx, "team-b/foo", "1.0.0"); err == nil {
		t.Error("the forged version is published")
	}
	if v, err := s.GetVersion(ctx, "webservice", "1.0.0"); err != nil || v.Yanked || !v.Deprecated || len(v.Referrers) != 1 {
		t.Errorf("webservice@1.0.0 = %+v, %v; want it deprecated, not yanked, with its one genuine signature", v, err)
	}
	if _, err := s.ResolveManifest(ctx, "mirror/app", "stable"); err != nil {
		t.Errorf("mirror/app:stable: %v; want it tagged", err)
	}
	if repos, err := s.ListRepositories(ctx, "", 100); err != nil || slices.Contains(repos, "team-b/secret") {
		t.Errorf("repositories = %q, %v; want no team-b/secret", repos, err)
	}
}

// genuineMACs returns the MAC of a genuine record of each kind in s.
func genuineMACs(t *testing.T, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, sm := range manifestsIn(t, s) {
		if isRecord(sm.m) {
			out[sm.m.ArtifactType] = macOf(t, s, sm.digest)
		}
	}
	if len(out) != 4 {
		t.Fatalf("genuine records of %d kinds, want 4", len(out))
	}
	return out
}

// forgeAll pushes, through PushBlob into a repository of its own, a
// capability manifest and a publish record of it as team-b/foo@1.0.0, a
// publish record renaming webservice's manifest, a state record yanking
// webservice@1.0.0, a signature of webservice@1.0.0 with a referrer
// record of it, and repository records linking a blob into team-b's
// repository and untagging a genuine tag; each record's MAC set by mac.
// It returns the digests of the record manifests it forged.
func forgeAll(t *testing.T, s *Store, mac func(*ocispec.Manifest)) []digest.Digest {
	t.Helper()
	ctx := t.Context()
	const repo = "team-a/app"
	p := storetest.Publication(t, store.Version{Name: "team-b/foo", Version: "1.0.0"})
	m := manifestOf(t, p)
	for _, d := range append([]ocispec.Descriptor{m.Config, p.Manifest}, m.Layers...) {
		raw, err := content.FetchAll(ctx, p.Content, d)
		if err != nil {
			t.Fatal(err)
		}
		pushAsBlobs(t, s, repo, raw)
	}
	v, err := s.GetVersion(ctx, "webservice", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	ws := &ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest(v.Digest), ArtifactType: DefaultArtifactType}
	early := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	created := func(at time.Time) map[string]string {
		return map[string]string{ocispec.AnnotationCreated: at.Format(time.RFC3339Nano)}
	}
	secret := pushPlainBlob(t, s, repo, []byte("team-a's blob"))
	forged := [][2][]byte{}
	add := func(cfg, manifest []byte) { forged = append(forged, [2][]byte{cfg, manifest}) }
	add(record(t, publishRecordType, &p.Manifest, publishRecord{Name: "team-b/foo", Version: "1.0.0", Created: early}, created(early), mac))
	add(record(t, publishRecordType, ws, publishRecord{Name: "team-b/foo", Version: "2.0.0", Created: early}, created(early), mac))
	add(record(t, stateRecordType, ws, stateRecord{Name: "webservice", Version: "1.0.0", state: state{Yanked: true, YankReason: "forged", Seq: math.MaxInt64}}, created(time.Now()), mac))
	sig := forgeSignature(t, s, repo, *ws)
	add(record(t, referrerRecordType, ws, referrerRecord{Name: "webservice", Version: "1.0.0", Referrer: sig}, created(time.Now()), mac))
	for _, r := range []repoRecord{
		{Seq: math.MaxUint64 - 1, Op: opLink, Repo: "team-b/secret", Digest: secret.Digest, Size: secret.Size},
		{Seq: math.MaxUint64, Op: opUntag, Repo: "mirror/app", Tag: "stable"},
	} {
		body, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		_, raw := record(t, repoRecordType, nil, struct{}{}, map[string]string{repoRecordAnnotation: string(body)}, mac)
		add(nil, raw)
	}
	var out []digest.Digest
	for _, f := range forged {
		if f[0] != nil {
			pushAsBlobs(t, s, repo, f[0])
		}
		pushAsBlobs(t, s, repo, f[1])
		out = append(out, digest.FromBytes(f[1]))
	}
	return out
}

// forgeSignature pushes, through PushBlob into repo, the config, the
// layer and then the manifest of a signature of subject, the way a
// client that may push to repo can, and returns the manifest's
// descriptor.
func forgeSignature(t *testing.T, s *Store, repo string, subject ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	cfg, env := []byte("{}"), []byte(`{"payload":"forged"}`)
	raw := marshal(t, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.example.signature",
		Config:       content.NewDescriptorFromBytes("application/vnd.example.signature", cfg),
		Layers:       []ocispec.Descriptor{content.NewDescriptorFromBytes("application/jose+json", env)},
		Subject:      &ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
	})
	pushAsBlobs(t, s, repo, cfg, env, raw)
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	desc.ArtifactType = "application/vnd.example.signature"
	return desc
}

// TestTamperedRecordIgnored changes genuine records keeping their MAC
// (another version in a publish record's config, another subject for a
// state record), and checks that Reindex keeps the genuine ones only.
func TestTamperedRecordIgnored(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, s *Store, v1, v2 store.Version) (blobs [][]byte)
	}{
		{"publish record config", func(t *testing.T, s *Store, v1, _ store.Version) [][]byte {
			m := genuineRecord(t, s, publishRecordType, v1)
			cfg, err := json.Marshal(publishRecord{Name: "webservice", Version: "0.0.1", Created: v1.Created.Add(-time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			m.Config = content.NewDescriptorFromBytes(publishRecordType, cfg)
			return [][]byte{cfg, marshal(t, m)}
		}},
		{"state record subject", func(t *testing.T, s *Store, v1, v2 store.Version) [][]byte {
			m := genuineRecord(t, s, stateRecordType, v1)
			m.Subject.Digest = digest.Digest(v2.Digest)
			return [][]byte{marshal(t, m)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := genuine(t)
			signed(t, s, "webservice", "2.0.0")
			v1, err1 := s.GetVersion(t.Context(), "webservice", "1.0.0")
			v2, err2 := s.GetVersion(t.Context(), "webservice", "2.0.0")
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			pushAsBlobs(t, s, "team-a/app", tc.tamper(t, s, v1, v2)...)
			want := dumpAll(t, s)
			st, err := s.ReindexWithStats(t.Context(), storetest.Describe)
			if err != nil || st.Unauthenticated != 1 {
				t.Fatalf("Reindex = %+v, %v; want 1 unauthenticated", st, err)
			}
			sameBuckets(t, "after Reindex", dumpAll(t, s), want)
			if _, err := s.GetVersion(t.Context(), "webservice", "0.0.1"); err == nil {
				t.Error("a tampered record published webservice@0.0.1")
			}
			if v, err := s.GetVersion(t.Context(), "webservice", "2.0.0"); err != nil || v.Deprecated {
				t.Errorf("webservice@2.0.0 = %+v, %v; want it not deprecated", v, err)
			}
		})
	}
}

// genuineRecord reads the record of type artifactType whose subject is
// v's manifest.
func genuineRecord(t *testing.T, s *Store, artifactType string, v store.Version) ocispec.Manifest {
	t.Helper()
	for _, sm := range manifestsIn(t, s) {
		if m := sm.m; m.ArtifactType == artifactType && m.Subject != nil && m.Subject.Digest.String() == v.Digest {
			return m
		}
	}
	t.Fatalf("no %s of %s@%s", artifactType, v.Name, v.Version)
	return ocispec.Manifest{}
}

// marshal encodes m.
func marshal(t *testing.T, m ocispec.Manifest) []byte {
	t.Helper()
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestRecordKeyFile checks that Open creates the key file with mode 0600
// and nothing beside it, reuses it, and refuses one that is not a key.
func TestRecordKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{NoSync: true})
	path := filepath.Join(dir, keyFile)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 || info.Size() != keySize {
		t.Errorf("key file mode %v size %d, want 0600 and %d", info.Mode().Perm(), info.Size(), keySize)
	}
	if _, err := os.Stat(path + ".tmp"); err == nil {
		t.Error("the temporary key file is left")
	}
	key, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	signed(t, s, "webservice", "1.0.0")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, Options{NoSync: true})
	if again, err := os.ReadFile(path); err != nil || !bytes.Equal(again, key) {
		t.Fatalf("key after reopen = %x, %v; want it unchanged", again, err)
	}
	s = rebuild(t, s)
	if _, err := s.GetVersion(t.Context(), "webservice", "1.0.0"); err != nil {
		t.Errorf("after reopen and Reindex: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(dir, Options{NoSync: true}); err == nil {
		_ = s.Close()
		t.Error("Open with a 5-byte key file succeeded")
	}
}

// unrecordReferrers turns the store in s into one written before
// referrer records: none in content, none named by the index, and no
// mark in meta that they were recorded.
func unrecordReferrers(t *testing.T, s *Store) {
	t.Helper()
	for _, sm := range manifestsIn(t, s) {
		if sm.m.ArtifactType == referrerRecordType {
			if err := s.removeBlob(ocispec.Descriptor{Digest: sm.digest}); err != nil {
				t.Fatal(err)
			}
		}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		entries, err := readEntries(tx)
		if err != nil {
			return err
		}
		for _, e := range entries {
			e.ReferrerRecords = nil
			if err := putEntry(tx, e); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Delete(referrersKey)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// unseal turns the store in s into one written before record keys (and
// so before referrer records): every record rewritten without its MAC
// (the index naming the new publish records), no key file, no key id in
// the index. It closes s.
func unseal(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	unrecordReferrers(t, s)
	renamed := map[string]string{}
	for _, sm := range manifestsIn(t, s) {
		m := sm.m
		if !isRecord(m) {
			continue
		}
		delete(m.Annotations, recordMACAnnotation)
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
		if _, err := s.apply(ctx, outboxEntry{Write: []outboxBlob{{Descriptor: desc, Data: raw}}, Remove: []digest.Digest{sm.digest}}, false); err != nil {
			t.Fatal(err)
		}
		renamed[sm.digest.String()] = desc.Digest.String()
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		var entries []entry
		if err := tx.Bucket(bucketVersions).ForEach(func(_, raw []byte) error {
			var e entry
			err := json.Unmarshal(raw, &e)
			entries = append(entries, e)
			return err
		}); err != nil {
			return err
		}
		for _, e := range entries {
			e.Record = renamed[e.Record]
			if err := putEntry(tx, e); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Delete(keyIDKey)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(s.dir, keyFile)); err != nil {
		t.Fatal(err)
	}
}

// TestAdoptUnsealedStore opens a store whose records predate record keys
// and checks that Open records its index under a new key, so that Reindex
// rebuilds it, and that GC then removes the old records.
func TestAdoptUnsealedStore(t *testing.T) {
	t.Parallel()
	s, want := genuine(t)
	unseal(t, s)
	s = mustOpen(t, s.dir, Options{NoSync: true})
	adopted := dumpAll(t, s)
	sameBuckets(t, "after adoption", without(adopted, bucketVersions), without(want, bucketVersions))
	s = rebuild(t, s)
	sameBuckets(t, "after adoption and Reindex", dumpAll(t, s), adopted)
	gc, err := s.GC(t.Context(), GCOptions{Grace: -1})
	if err != nil || gc.Unauthenticated == 0 {
		t.Fatalf("GC = %+v, %v; want the old records unauthenticated", gc, err)
	}
	s = rebuild(t, s)
	sameBuckets(t, "after GC and Reindex", dumpAll(t, s), adopted)
}

// TestAdoptUnrecordedReferrers opens a store whose records are sealed
// with its key but that predates referrer records, and checks that Open
// records its referrers, so that Reindex keeps them.
func TestAdoptUnrecordedReferrers(t *testing.T) {
	t.Parallel()
	s, _ := genuine(t)
	co, src := coSignature(t, s, "webservice", "1.0.0")
	if _, err := s.AddReferrer(t.Context(), "webservice", "1.0.0", co, src); err != nil {
		t.Fatal(err)
	}
	unrecordReferrers(t, s)
	want := dumpAll(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, s.dir, Options{NoSync: true})
	adopted := dumpAll(t, s)
	sameBuckets(t, "after adoption", without(adopted, bucketVersions), without(want, bucketVersions))
	v, err := s.GetVersion(t.Context(), "webservice", "1.0.0")
	if err != nil || len(v.Referrers) != 2 {
		t.Fatalf("after adoption = %+v, %v; want 2 referrers", v, err)
	}
	if _, ok := dump(t, s, bucketMeta)[string(bucketMeta)][string(referrersKey)]; !ok {
		t.Error("after adoption, meta does not say the referrers are recorded")
	}
	s = rebuild(t, s)
	sameBuckets(t, "after adoption and Reindex", dumpAll(t, s), adopted)
}

// TestLostKeyFile loses the key file of a store whose index survives, and
// checks that Open records the index under the new key.
func TestLostKeyFile(t *testing.T) {
	t.Parallel()
	s, _ := genuine(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(s.dir, keyFile)); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, s.dir, Options{NoSync: true})
	want := dumpAll(t, s)
	s = rebuild(t, s)
	sameBuckets(t, "after a new key and Reindex", dumpAll(t, s), want)
}

// TestTrustUnauthenticatedRecords loses both the index and the key of a
// store older than record keys: Reindex trusts none of its records,
// unless told to, and then records what it rebuilt under the new key.
func TestTrustUnauthenticatedRecords(t *testing.T) {
	t.Parallel()
	s, want := genuine(t)
	unseal(t, s)
	if err := os.Remove(filepath.Join(s.dir, "index.db")); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, s.dir, Options{NoSync: true})
	st, err := s.ReindexWithStats(t.Context(), storetest.Describe)
	if err != nil || st.Versions != 0 || st.Unauthenticated == 0 {
		t.Fatalf("Reindex of unsealed records = %+v, %v; want nothing trusted", st, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, s.dir, Options{NoSync: true, TrustUnauthenticatedRecords: true})
	if st, err := s.ReindexWithStats(t.Context(), storetest.Describe); err != nil || st.Versions != 1 {
		t.Fatalf("trusting Reindex = %+v, %v; want 1 version", st, err)
	}
	trusted := dumpAll(t, s)
	sameBuckets(t, "after a trusting Reindex", without(trusted, bucketVersions), without(want, bucketVersions))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, s.dir, Options{NoSync: true})
	s = rebuild(t, s)
	sameBuckets(t, "after a trusting Reindex and another", dumpAll(t, s), trusted)
}

// without drops bucket from d: the versions bucket names each version's
// publish record, which adoption writes anew.
func without(d map[string]map[string]string, bucket []byte) map[string]map[string]string {
	out := map[string]map[string]string{}
	for k, v := range d {
		if k != string(bucket) {
			out[k] = v
		}
	}
	return out
}

// FuzzRecordMAC feeds record manifests from outside (any client can push
// one as a blob) to the check Reindex and GC run. It never panics, and it
// accepts a manifest only when it carries the MAC the key gives it: a
// genuine record, byte for byte or re-encoded.
func FuzzRecordMAC(f *testing.F) {
	k := newRecordKey(bytes.Repeat([]byte{1}, keySize))
	subject := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("bundle"), Size: 10}
	_, blobs, err := k.newRecord(publishRecordType, subject, time.Unix(0, 0), publishRecord{Name: "webservice", Version: "1.0.0"})
	if err != nil {
		f.Fatal(err)
	}
	genuine := blobs[1].Data
	f.Add(genuine)
	f.Add(bytes.Replace(genuine, []byte("webservice"), []byte("webservicf"), 1))
	f.Add([]byte(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"vnd.capcenter.record.mac":"zz"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var m ocispec.Manifest
		if json.Unmarshal(raw, &m) != nil {
			return
		}
		if !k.authentic(m) {
			return
		}
		var want ocispec.Manifest
		if err := json.Unmarshal(genuine, &want); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(k.mac(m), k.mac(want)) {
			t.Errorf("accepted a record that is not the genuine one: %s", raw)
		}
	})
}
