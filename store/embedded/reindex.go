package embedded

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"oras.land/oras-go/v2/content"

	"github.com/capcenter/capcenter/store"
)

// found is what a walk of the content finds: capability manifests, and
// per manifest digest its earliest publish record, newest state, other
// manifests whose subject it is (referrers, committed or not) and the
// referrers its referrer records name.
type found struct {
	manifests map[digest.Digest]scanned
	published map[digest.Digest]publishRecord
	states    map[digest.Digest]state
	referrers map[digest.Digest][]store.Referrer
	// recorded maps a subject to the referrers its records name, each to
	// the record's digest.
	recorded map[digest.Digest]map[digest.Digest]digest.Digest
	// repo are the repository records, in no order.
	repo []repoRecord
	// unauthenticated counts the record manifests ignored for their MAC.
	unauthenticated int
}

// ReindexStats is what one Reindex found.
type ReindexStats struct {
	// Versions counts the versions indexed.
	Versions int
	// Unauthenticated counts the manifests of a record type whose MAC is
	// missing or wrong, which Reindex ignored: forged by a client that
	// pushed them as blobs, written before the store had its record key,
	// or sealed with a key the store lost. With
	// Options.TrustUnauthenticatedRecords it is zero.
	Unauthenticated int
	// Unrecorded counts the manifests in content whose subject is an
	// indexed version's manifest but that no authentic referrer record
	// names, which Reindex did not attach as referrers: pushed as blobs by
	// a client, written by an AddReferrer or Publish whose commit never
	// happened, or attached before referrer records existed to an index
	// that was lost before an Open recorded them. With
	// Options.TrustUnauthenticatedRecords it is zero: all are attached.
	Unrecorded int
}

// scanned is one capability manifest and the version size it makes.
type scanned struct {
	desc ocispec.Descriptor
	size int64
}

// Reindex rebuilds the index from content alone: ReindexWithStats
// without the stats.
func (s *Store) Reindex(ctx context.Context, describe store.Describer) error {
	_, err := s.ReindexWithStats(ctx, describe)
	return err
}

// ReindexWithStats rebuilds the index from content alone. It first keeps
// the outbox's promises, then walks every blob, keeps the capability
// manifests (of the store's artifact type) that have a publish record,
// asks describe for their catalog fields, applies each version's newest
// state record, gives each version the referrers that an authentic
// referrer record names and whose manifest content holds (the other
// manifests whose subject is its manifest are counted in
// ReindexStats.Unrecorded; those whose subject is not a published
// capability manifest are ignored), replays the repository records in
// sequence order into the plain-content buckets, and replaces the whole
// index in one transaction and the catalog after it. Only records sealed
// with the store's key count (see recordkey.go): the others are counted
// in ReindexStats.Unauthenticated and otherwise ignored, unless
// Options.TrustUnauthenticatedRecords is set, when every record counts,
// every manifest whose subject is a published manifest is its referrer,
// and the rebuilt index is recorded again under the key, as Open does for
// an index older than the key. Every other index write waits while it
// runs. A capability manifest without a publish record (a publish that
// failed before its commit) stays out of the catalog. When two published
// manifests claim one version (only after a crash mid-publish of a store
// older than the outbox), the one published first wins. It fails,
// leaving the old index in place, when the content cannot be read or
// written, a record does not parse, describe fails for a manifest, or
// ctx is done.
func (s *Store) ReindexWithStats(ctx context.Context, describe store.Describer) (ReindexStats, error) {
	if err := s.ready(ctx); err != nil {
		return ReindexStats{}, fmt.Errorf("reindex: %w", err)
	}
	if describe == nil {
		return ReindexStats{}, fmt.Errorf("reindex: describe: %w: nil", store.ErrInvalidArgument)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.flush(ctx); err != nil {
		return ReindexStats{}, fmt.Errorf("reindex: %w", err)
	}
	f, err := s.scan(ctx)
	if err != nil {
		return ReindexStats{}, fmt.Errorf("reindex: %w", err)
	}
	entries, err := s.describeAll(ctx, f, describe)
	if err != nil {
		return ReindexStats{}, fmt.Errorf("reindex: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return ReindexStats{}, fmt.Errorf("reindex: %w", err)
	}
	st := ReindexStats{Versions: len(entries), Unauthenticated: f.unauthenticated}
	for _, e := range entries {
		st.Unrecorded += len(f.referrers[digest.Digest(e.Version.Digest)]) - len(e.Version.Referrers)
	}
	c := newCatalog()
	err = s.update(func(tx *bolt.Tx) error {
		if err := s.rebuild(tx, f, entries, c); err != nil {
			return err
		}
		if s.trustAll {
			return s.recordIndex(tx)
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("reindex: %w", translate(err))
	}
	c.sortAll()
	s.catalog.replace(c)
	s.links.reset()
	if s.trustAll {
		if err := s.flush(ctx); err != nil {
			return st, fmt.Errorf("reindex: rebuilt, but not all of it is recorded under the key yet (the next Open records it): %w", err)
		}
	}
	return st, nil
}

// rebuild replaces the index inside tx with what f found, entries being
// its versions, and adds the versions to c.
func (s *Store) rebuild(tx *bolt.Tx, f found, entries map[string]entry, c *catalog) error {
	if err := resetBuckets(tx); err != nil {
		return err
	}
	if err := replayRepo(tx, f.repo); err != nil {
		return err
	}
	for _, e := range entries {
		if err := writeVersion(tx, e); err != nil {
			return err
		}
		st, ok := f.states[digest.Digest(e.Version.Digest)]
		if ok {
			if err := writeState(tx, versionKey(e.Version.Name, e.Version.Version), st); err != nil {
				return err
			}
		}
		st.apply(&e.Version)
		vi, err := newVerInfo(e.Version)
		if err != nil {
			return err
		}
		c.add(e.Version.Name, vi)
	}
	return nil
}

// resetBuckets empties the index inside tx.
func resetBuckets(tx *bolt.Tx) error {
	for _, b := range allBuckets {
		if err := tx.DeleteBucket(b); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
			return err
		}
		if _, err := tx.CreateBucket(b); err != nil {
			return err
		}
	}
	return nil
}

// scan walks the blob directory and sorts out the manifests it needs.
// Blobs that are not small JSON manifests are skipped unread.
func (s *Store) scan(ctx context.Context) (found, error) {
	f := found{
		manifests: map[digest.Digest]scanned{},
		published: map[digest.Digest]publishRecord{},
		states:    map[digest.Digest]state{},
		referrers: map[digest.Digest][]store.Referrer{},
		recorded:  map[digest.Digest]map[digest.Digest]digest.Digest{},
	}
	root := filepath.Join(s.dir, "content", ocispec.ImageBlobsDir, string(digest.SHA256))
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	for _, de := range entries {
		if err := ctx.Err(); err != nil {
			return f, err
		}
		info, err := de.Info()
		if err != nil || !info.Mode().IsRegular() || info.Size() > maxManifestSize {
			continue
		}
		d := digest.NewDigestFromEncoded(digest.SHA256, de.Name())
		if d.Validate() != nil {
			continue
		}
		if err := s.scanBlob(ctx, &f, ocispec.Descriptor{Digest: d, Size: info.Size()}); err != nil {
			return f, err
		}
	}
	return f, nil
}

// scanBlob reads one blob and records it if it is a repository record, a
// capability manifest, a publish, state or referrer record, or another
// manifest with a subject (a referrer, kept whatever its subject is;
// describeAll drops orphans and those no record names). A record the
// store does not trust is only counted.
func (s *Store) scanBlob(ctx context.Context, f *found, desc ocispec.Descriptor) error {
	raw, err := content.FetchAll(ctx, s.content, desc)
	if err != nil {
		return fmt.Errorf("%s: %w", desc.Digest, err)
	}
	var m ocispec.Manifest
	if json.Unmarshal(raw, &m) != nil || m.MediaType != ocispec.MediaTypeImageManifest {
		return nil
	}
	desc.MediaType, desc.ArtifactType = m.MediaType, m.ArtifactType
	switch {
	case isRecord(m) && !s.trusted(m):
		f.unauthenticated++
	case m.ArtifactType == repoRecordType:
		r, err := parseRepoRecord(m)
		if err != nil {
			return fmt.Errorf("repository record %s: %w", desc.Digest, err)
		}
		f.repo = append(f.repo, r)
	case m.ArtifactType == s.artifactType:
		size := desc.Size + m.Config.Size
		for _, l := range m.Layers {
			size += l.Size
		}
		f.manifests[desc.Digest] = scanned{desc: desc, size: size}
	case m.Subject == nil:
	case m.ArtifactType == publishRecordType:
		var r publishRecord
		if err := s.readRecord(ctx, m.Config, &r); err != nil {
			return err
		}
		r.Digest = desc.Digest.String()
		if old, ok := f.published[m.Subject.Digest]; !ok || cmp.Or(r.Created.Compare(old.Created), cmp.Compare(r.Digest, old.Digest)) < 0 {
			f.published[m.Subject.Digest] = r
		}
	case m.ArtifactType == stateRecordType:
		var r stateRecord
		if err := s.readRecord(ctx, m.Config, &r); err != nil {
			return err
		}
		if old, ok := f.states[m.Subject.Digest]; !ok || r.Seq > old.Seq {
			f.states[m.Subject.Digest] = r.state
		}
	case m.ArtifactType == referrerRecordType:
		var r referrerRecord
		if err := s.readRecord(ctx, m.Config, &r); err != nil {
			return err
		}
		f.addReferrerRecord(m.Subject.Digest, desc.Digest, r)
	default:
		f.referrers[m.Subject.Digest] = append(f.referrers[m.Subject.Digest], referrerOf(desc, m))
	}
	return nil
}

// readRecord decodes a record's config blob into v.
func (s *Store) readRecord(ctx context.Context, cfg ocispec.Descriptor, v any) error {
	raw, err := content.FetchAll(ctx, s.content, cfg)
	if err != nil {
		return fmt.Errorf("record %s: %w", cfg.Digest, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("record %s: %w", cfg.Digest, err)
	}
	return nil
}

// describeAll builds the index entry of every published capability
// manifest with its committed referrers, one per version (the earliest
// published when several claim it).
func (s *Store) describeAll(ctx context.Context, f found, describe store.Describer) (map[string]entry, error) {
	entries := map[string]entry{}
	for d, sc := range f.manifests {
		rec, ok := f.published[d]
		if !ok {
			continue
		}
		key := string(versionKey(rec.Name, rec.Version))
		if old, ok := entries[key]; ok && cmp.Or(old.Version.Created.Compare(rec.Created), cmp.Compare(old.Version.Digest, d.String())) < 0 {
			continue
		}
		v, err := describe(ctx, s.content, sc.desc)
		if err != nil {
			return nil, fmt.Errorf("describe %s@%s (%s): %w", rec.Name, rec.Version, d, err)
		}
		v = catalogFields(v)
		v.Name, v.Version = rec.Name, rec.Version
		v.Digest, v.Size, v.Created = d.String(), sc.size, rec.Created
		e := entry{Version: v, Record: rec.Digest, ManifestSize: sc.desc.Size}
		e.Version.Referrers, e.ReferrerRecords = s.committedReferrers(f, d)
		entries[key] = e
	}
	return entries, nil
}
