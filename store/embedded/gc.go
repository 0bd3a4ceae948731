package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/capcenter/capcenter/store"
)

// DefaultGCGrace is how long GC spares unreferenced content when
// GCOptions.Grace is zero.
const DefaultGCGrace = time.Hour

// GCOptions configures GC. The zero value removes unreferenced blobs and
// ingest files older than DefaultGCGrace.
type GCOptions struct {
	// DryRun counts what GC would remove and removes nothing.
	DryRun bool
	// Grace spares unreferenced blobs and ingest files modified less than
	// Grace ago. Zero means DefaultGCGrace; a negative Grace spares
	// nothing by age.
	Grace time.Duration
}

// GCStats is what one GC found and removed (or, on a dry run, would have).
type GCStats struct {
	// Blobs counts the blob files under content; Referenced the ones
	// reachable from the index.
	Blobs      int
	Referenced int
	// Removed and RemovedBytes count the unreferenced blobs removed.
	Removed      int
	RemovedBytes int64
	// Spared counts unreferenced blobs kept because they are younger than
	// the grace period.
	Spared int
	// Ingest and IngestBytes count the leftover ingest files removed.
	Ingest      int
	IngestBytes int64
	// Unauthenticated counts the blobs of a record type that GC did not
	// keep as records because their MAC is missing or wrong (see
	// ReindexStats.Unauthenticated); they are removed as any unreferenced
	// blob is.
	Unauthenticated int
}

// blobFile is one file of the blob directory.
type blobFile struct {
	digest digest.Digest
	path   string
	size   int64
	mod    time.Time
}

// GC removes the blobs under content that the index does not reach, and
// the ingest files that interrupted writes left behind. Reached are:
// every indexed version's manifest, config and layers; its referrers with
// their blobs; every publish and state record whose subject is an indexed
// manifest, with its config; the referrer records its entry names, with
// their configs (other referrer records, of a deleted version or left by
// an adoption, go); every plain blob linked in a repository; and
// every plain manifest with what it references (config, layers, blobs and,
// for an index, its child manifests and theirs); and every repository
// record, which Reindex needs to rebuild the plain content (so they are
// never removed: each plain change leaves one small file for good). Only
// records sealed with the store's key count as records (unless
// Options.TrustUnauthenticatedRecords): a forged one, or one older than
// the key (Open has recorded the index again), is unreferenced content,
// counted in GCStats.Unauthenticated. A referrer does not keep its
// subject. GC first keeps the outbox's
// promises. Content of deleted versions, of publishes that failed or
// never committed (in content older than the outbox, a crash between a
// publish record and its commit, which Reindex would otherwise restore),
// and referrers that no commit made visible are garbage; after GC,
// Reindex no longer brings them back.
//
// GC runs while publishes do: it holds the store's content lock for
// writing, which every call that writes content holds for reading from
// its first content check until its commit and record are done, so a
// blob pushed, or found already stored and reused, by a call in flight is
// referenced by the index before GC looks, or written after GC is done. It holds writeMu
// too, so no commit and no Reindex runs while it decides and removes.
// Publishes, referrer additions, state changes and plain pushes wait
// while GC runs. Grace is a second line of defense, against content
// written outside those calls; it spares files by modification time.
//
// GC removes nothing when the index references a manifest that content
// lacks or cannot be read (it wraps store.ErrNotFound naming it; run
// Reindex first), when the index cannot be read, or when ctx is done
// before it starts removing; a failure while removing returns the counts
// so far. Files under content whose names are not digests are left alone.
func (s *Store) GC(ctx context.Context, opts GCOptions) (GCStats, error) {
	if err := s.ready(ctx); err != nil {
		return GCStats{}, fmt.Errorf("gc: %w", err)
	}
	grace := opts.Grace
	if grace == 0 {
		grace = DefaultGCGrace
	}
	cutoff := time.Now().Add(-max(grace, 0))
	s.contentMu.Lock()
	defer s.contentMu.Unlock()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.flush(ctx); err != nil {
		return GCStats{}, fmt.Errorf("gc: %w", err)
	}
	live, subjects, err := s.mark(ctx)
	if err != nil {
		return GCStats{}, fmt.Errorf("gc: %w", err)
	}
	blobs, err := s.listBlobs(ctx)
	if err != nil {
		return GCStats{}, fmt.Errorf("gc: %w", err)
	}
	unauthenticated, err := s.markRecords(ctx, live, subjects, blobs)
	if err != nil {
		return GCStats{}, fmt.Errorf("gc: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return GCStats{}, fmt.Errorf("gc: %w", err)
	}
	st, err := sweepBlobs(ctx, live, blobs, cutoff, opts.DryRun)
	st.Unauthenticated = unauthenticated
	if err != nil {
		return st, fmt.Errorf("gc: %w", err)
	}
	st.Ingest, st.IngestBytes, err = s.sweepIngest(ctx, cutoff, opts.DryRun)
	if err != nil {
		return st, fmt.Errorf("gc: %w", err)
	}
	return st, nil
}

// gcRoots is what the index names directly: manifests to read and walk,
// and plain blobs.
type gcRoots struct {
	manifests []ocispec.Descriptor
	blobs     []digest.Digest
	// subjects are the indexed capability manifests, whose records live.
	subjects map[digest.Digest]bool
}

// mark returns every digest reachable from the index but records not
// named by it, and the indexed capability manifests.
func (s *Store) mark(ctx context.Context) (map[digest.Digest]bool, map[digest.Digest]bool, error) {
	var roots gcRoots
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		roots, err = s.readRoots(tx)
		return err
	})
	if err != nil {
		return nil, nil, translate(err)
	}
	live, walked := map[digest.Digest]bool{}, map[digest.Digest]bool{}
	for _, d := range roots.blobs {
		live[d] = true
	}
	queue := roots.manifests
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		desc := queue[0]
		queue = queue[1:]
		live[desc.Digest] = true
		if walked[desc.Digest] || desc.MediaType == "" {
			continue
		}
		walked[desc.Digest] = true
		children, err := s.references(ctx, desc)
		if err != nil {
			return nil, nil, err
		}
		queue = append(queue, children...)
	}
	return live, roots.subjects, nil
}

// readRoots reads the roots of the mark from the version and plain
// buckets inside tx.
func (s *Store) readRoots(tx *bolt.Tx) (gcRoots, error) {
	r := gcRoots{subjects: map[digest.Digest]bool{}}
	err := tx.Bucket(bucketVersions).ForEach(func(k, raw []byte) error {
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("%q: decode index entry: %w", k, err)
		}
		manifest := s.capabilityManifest(e)
		r.subjects[manifest.Digest] = true
		r.manifests = append(r.manifests, manifest)
		for _, rec := range append([]string{e.Record}, e.ReferrerRecords...) {
			if rec != "" {
				r.manifests = append(r.manifests, imageManifest(digest.Digest(rec)))
			}
		}
		for _, ref := range e.Version.Referrers {
			r.manifests = append(r.manifests, imageManifest(digest.Digest(ref.Digest)))
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	err = tx.Bucket(bucketManifests).ForEach(func(k, raw []byte) error {
		var pm plainManifest
		if err := json.Unmarshal(raw, &pm); err != nil {
			return fmt.Errorf("%q: decode manifest entry: %w", k, err)
		}
		r.manifests = append(r.manifests, pm.Descriptor)
		return nil
	})
	if err != nil {
		return r, err
	}
	return r, tx.Bucket(bucketBlobs).ForEach(func(k, _ []byte) error {
		if _, d, ok := strings.Cut(string(k), "\x00"); ok {
			r.blobs = append(r.blobs, digest.Digest(d))
		}
		return nil
	})
}

// imageManifest describes the image manifest dgst for reading.
func imageManifest(dgst digest.Digest) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: dgst}
}

// manifestRefs is what any manifest or index may reference: an OCI or
// Docker image manifest's config and layers, an artifact manifest's
// blobs, an index's manifests.
type manifestRefs struct {
	Config    *ocispec.Descriptor  `json:"config"`
	Layers    []ocispec.Descriptor `json:"layers"`
	Blobs     []ocispec.Descriptor `json:"blobs"`
	Manifests []ocispec.Descriptor `json:"manifests"`
}

// references reads the manifest desc and returns what it references; the
// blobs come back with an empty media type so that the mark does not
// read them. A manifest that does not parse references nothing; one that
// content lacks wraps store.ErrNotFound.
func (s *Store) references(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	raw, err := s.readSmall(ctx, desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("the index references %s: %w", desc.Digest, err)
	}
	var m manifestRefs
	if json.Unmarshal(raw, &m) != nil {
		return nil, nil
	}
	var out []ocispec.Descriptor
	if m.Config != nil {
		out = append(out, ocispec.Descriptor{Digest: m.Config.Digest})
	}
	for _, b := range append(m.Layers, m.Blobs...) {
		out = append(out, ocispec.Descriptor{Digest: b.Digest})
	}
	for _, c := range m.Manifests {
		out = append(out, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: c.Digest})
	}
	return out, nil
}

// readSmall reads the blob dgst, up to maxManifestSize bytes, verifying
// nothing; a blob content lacks wraps store.ErrNotFound.
func (s *Store) readSmall(ctx context.Context, dgst digest.Digest) ([]byte, error) {
	rc, err := s.content.Fetch(ctx, ocispec.Descriptor{Digest: dgst})
	if err != nil {
		return nil, translate(err)
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, maxManifestSize))
}

// listBlobs lists every file of the blob directory whose name is a digest
// of its algorithm folder.
func (s *Store) listBlobs(ctx context.Context) ([]blobFile, error) {
	root := filepath.Join(s.dir, "content", ocispec.ImageBlobsDir)
	algs, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []blobFile
	for _, alg := range algs {
		if !alg.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(root, alg.Name()))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			d := digest.NewDigestFromEncoded(digest.Algorithm(alg.Name()), f.Name())
			info, err := f.Info()
			if d.Validate() != nil || errors.Is(err, fs.ErrNotExist) || (err == nil && !info.Mode().IsRegular()) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, blobFile{digest: d, path: filepath.Join(root, alg.Name(), f.Name()), size: info.Size(), mod: info.ModTime()})
		}
	}
	return out, nil
}

// markRecords reads the small blobs the mark did not reach and marks
// every repository record, and the publish and state records of the
// manifests in subjects, with their configs, if the store trusts them;
// it returns how many records it did not trust. A blob that vanished
// meanwhile is skipped.
func (s *Store) markRecords(ctx context.Context, live, subjects map[digest.Digest]bool, blobs []blobFile) (int, error) {
	unauthenticated := 0
	for _, b := range blobs {
		if live[b.digest] || b.size > maxManifestSize {
			continue
		}
		if err := ctx.Err(); err != nil {
			return unauthenticated, err
		}
		raw, err := s.readSmall(ctx, b.digest)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return unauthenticated, fmt.Errorf("%s: %w", b.digest, err)
		}
		var m ocispec.Manifest
		if json.Unmarshal(raw, &m) != nil || m.MediaType != ocispec.MediaTypeImageManifest {
			continue
		}
		switch {
		case isRecord(m) && !s.trusted(m):
			unauthenticated++
		case m.ArtifactType == repoRecordType:
			live[b.digest], live[m.Config.Digest] = true, true
		case m.Subject == nil:
		case (m.ArtifactType == publishRecordType || m.ArtifactType == stateRecordType) && subjects[m.Subject.Digest]:
			live[b.digest], live[m.Config.Digest] = true, true
		}
	}
	return unauthenticated, nil
}

// sweepBlobs removes (or counts, on a dry run) the blobs not in live and
// modified before cutoff.
func sweepBlobs(ctx context.Context, live map[digest.Digest]bool, blobs []blobFile, cutoff time.Time, dryRun bool) (GCStats, error) {
	st := GCStats{Blobs: len(blobs)}
	for _, b := range blobs {
		switch {
		case live[b.digest]:
			st.Referenced++
			continue
		case b.mod.After(cutoff):
			st.Spared++
			continue
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
		removed, err := remove(b.path, dryRun)
		if err != nil {
			return st, err
		}
		if removed {
			st.Removed++
			st.RemovedBytes += b.size
		}
	}
	return st, nil
}

// sweepIngest removes (or counts) the files under content/ingest modified
// before cutoff: writes that a crash or a failed push interrupted.
func (s *Store) sweepIngest(ctx context.Context, cutoff time.Time, dryRun bool) (int, int64, error) {
	dir := filepath.Join(s.dir, "content", "ingest")
	files, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	var (
		n    int
		size int64
	)
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return n, size, err
		}
		info, err := f.Info()
		if errors.Is(err, fs.ErrNotExist) || (err == nil && (!info.Mode().IsRegular() || info.ModTime().After(cutoff))) {
			continue
		}
		if err != nil {
			return n, size, err
		}
		removed, err := remove(filepath.Join(dir, f.Name()), dryRun)
		if err != nil {
			return n, size, err
		}
		if removed {
			n++
			size += info.Size()
		}
	}
	return n, size, nil
}

// remove removes path unless dryRun, and reports whether it was there to
// remove.
func remove(path string, dryRun bool) (bool, error) {
	if dryRun {
		return true, nil
	}
	err := os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
