package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// Every content write goes through an ingestBatch: the bytes are copied to
// a file of their own under content/ingest, verified against their
// descriptor, synced, and renamed into blobs/<alg>/<encoded>. A blob
// therefore has its name only once all of it is on disk. The rename itself
// is durable once the blob directory is synced, which dirSync does once
// for many renames: every call that commits a reference to content syncs
// the directories its writes dirtied before the commit.

// dirSync is the set of content directories holding renames not yet
// synced. It is safe for concurrent use.
type dirSync struct {
	// syncMu is held across the fsyncs, so that sync returns only once
	// every rename added before it is durable, even when another
	// goroutine's sync took it out of the set.
	syncMu sync.Mutex
	mu     sync.Mutex
	dirty  map[string]bool
	// noSync skips every fsync (Options.NoSync).
	noSync bool
}

// add marks dir as holding an unsynced rename or removal.
func (d *dirSync) add(dir string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dirty == nil {
		d.dirty = map[string]bool{}
	}
	d.dirty[dir] = true
}

// sync fsyncs every directory added before it was called. A directory that
// fails to sync stays in the set and its error is returned.
func (d *dirSync) sync() error {
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	d.mu.Lock()
	dirs := d.dirty
	d.dirty = nil
	d.mu.Unlock()
	var errs []error
	for dir := range dirs {
		if d.noSync {
			continue
		}
		if err := syncDir(dir); err != nil {
			d.add(dir)
			errs = append(errs, fmt.Errorf("sync %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}

// syncDir fsyncs the directory dir, making the names in it durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// prepareContent creates content/blobs/sha256 and content/ingest under
// root and syncs the directories above them, so that later writes only
// dirty the blob directory they rename into.
func prepareContent(root string, noSync bool) error {
	dirs := []string{filepath.Join(root, ocispec.ImageBlobsDir, "sha256"), filepath.Join(root, "ingest")}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if noSync {
		return nil
	}
	for _, dir := range []string{filepath.Join(root, ocispec.ImageBlobsDir), root, filepath.Dir(root)} {
		if err := syncDir(dir); err != nil {
			return fmt.Errorf("sync %s: %w", dir, err)
		}
	}
	return nil
}

// blobPath is where content keeps the blob desc.
func (s *Store) blobPath(desc ocispec.Descriptor) string {
	return filepath.Join(s.dir, "content", ocispec.ImageBlobsDir, desc.Digest.Algorithm().String(), desc.Digest.Encoded())
}

// ingest writes r into content as desc, alone: see ingestBatch. Bytes
// that do not match desc wrap content.ErrMismatchedDigest,
// content.ErrTrailingData or io.ErrUnexpectedEOF and leave nothing behind.
func (s *Store) ingest(desc ocispec.Descriptor, r io.Reader) error {
	b := s.newBatch()
	defer b.discard()
	if err := b.add(desc, r); err != nil {
		return err
	}
	return b.commit()
}

// ingestBatch writes several blobs into content: each to a file of its
// own under content/ingest, verified as it is copied; then commit syncs
// them all at once (in parallel, so that the file system can share one
// journal commit between them) and renames them into place in the order
// they were added, leaving the blob directories for s.dirs.sync. So a
// blob has its name only once all of it is on disk, and a manifest added
// after its blobs is named after them. (oras-go's Storage.Push syncs
// nothing, and leaves its ingest file when the bytes do not match.) A
// batch is used by one goroutine.
type ingestBatch struct {
	s      *Store
	staged []stagedBlob
	// lazy skips the files' fsync, for records whose promise in the
	// outbox keeps them until a checkpoint syncs them.
	lazy bool
}

// stagedBlob is a blob written and verified, not yet in place.
type stagedBlob struct {
	desc ocispec.Descriptor
	tmp  *os.File
}

func (s *Store) newBatch() *ingestBatch { return &ingestBatch{s: s} }

// has reports whether desc is staged in b.
func (b *ingestBatch) has(desc ocispec.Descriptor) bool {
	for _, st := range b.staged {
		if st.desc.Digest == desc.Digest {
			return true
		}
	}
	return false
}

// add writes r to a file of its own and checks it against desc. Bytes
// that do not match wrap content.ErrMismatchedDigest and its kin, and
// their file is removed at once.
func (b *ingestBatch) add(desc ocispec.Descriptor, r io.Reader) error {
	f, err := os.CreateTemp(filepath.Join(b.s.dir, "content", "ingest"), desc.Digest.Encoded()+"_*")
	if err != nil {
		return err
	}
	vr := content.NewVerifyReader(r, desc)
	_, err = io.Copy(f, vr)
	if err == nil {
		err = vr.Verify()
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return err
	}
	b.staged = append(b.staged, stagedBlob{desc: desc, tmp: f})
	return nil
}

// commit syncs every staged file, then renames each into place in order.
// On failure the files not yet in place stay staged for discard.
func (b *ingestBatch) commit() error {
	if !b.s.dirs.noSync && !b.lazy {
		errs := make([]error, len(b.staged))
		var wg sync.WaitGroup
		for i, st := range b.staged {
			wg.Go(func() { errs[i] = st.tmp.Sync() })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	for len(b.staged) > 0 {
		st := b.staged[0]
		if err := b.s.place(st); err != nil {
			return err
		}
		b.staged = b.staged[1:]
	}
	return nil
}

// place closes a synced staged file and renames it to its blob path.
func (s *Store) place(st stagedBlob) error {
	if err := st.tmp.Chmod(0o444); err != nil {
		return err
	}
	if err := st.tmp.Close(); err != nil {
		return err
	}
	target := s.blobPath(st.desc)
	if err := s.ensureDir(filepath.Dir(target)); err != nil {
		return err
	}
	if err := os.Rename(st.tmp.Name(), target); err != nil {
		return err
	}
	s.dirs.add(filepath.Dir(target))
	return nil
}

// discard removes the files still staged. It is safe after commit.
func (b *ingestBatch) discard() {
	for _, st := range b.staged {
		_ = st.tmp.Close()
		_ = os.Remove(st.tmp.Name())
	}
	b.staged = nil
}

// ensureDir creates the blob directory of a digest algorithm the first
// time one is written, marking its parent for syncing.
func (s *Store) ensureDir(dir string) error {
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s.dirs.add(filepath.Dir(dir))
	return nil
}

// pushBytes stages data in b unless the content or b already holds it.
func (s *Store) pushBytes(ctx context.Context, b *ingestBatch, desc ocispec.Descriptor, data []byte) error {
	return s.pushReader(ctx, b, desc, func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

// pushReader stages in b the content open returns, unless the content or
// b already holds desc. It fails with open's error, or wraps the
// ingest's (a mismatch wraps content.ErrMismatchedDigest and its kin).
func (s *Store) pushReader(ctx context.Context, b *ingestBatch, desc ocispec.Descriptor, open func() (io.ReadCloser, error)) error {
	exists, err := s.content.Exists(ctx, desc)
	if err != nil {
		return fmt.Errorf("%s: %w", desc.Digest, translate(err))
	}
	if exists || b.has(desc) {
		return nil
	}
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := b.add(desc, rc); err != nil {
		return fmt.Errorf("%s: push: %w", desc.Digest, err)
	}
	return nil
}

// removeBlob removes the blob desc from content, if it is there, and marks
// its directory for syncing.
func (s *Store) removeBlob(desc ocispec.Descriptor) error {
	path := s.blobPath(desc)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	s.dirs.add(filepath.Dir(path))
	return nil
}
