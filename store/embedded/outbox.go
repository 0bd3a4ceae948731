package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
)

// The outbox makes every record a function of the index. A change that
// content must record (a publish, a state change, a deleted version, any
// plain write) commits its record's bytes to the outbox bucket in the
// same transaction as the change itself, then writes them into content
// before the call returns. A process killed between the two leaves the
// promise in the index, and the next Open (or Reindex, or GC) keeps it
// before doing anything else. So content never holds a record the index
// has not committed, the index never holds a change whose record content
// will not get, and Reindex rebuilds what the live index says.
//
// The promise also makes the record durable: a kept promise stays in the
// bucket, its record written but not synced, until a checkpoint (every
// checkpointEvery kept promises, and at Close, Reindex, GC and Open)
// syncs the records of all of them at once and deletes them. After a
// power loss the next Open writes again whatever the promises left in
// the index name.

// bucketOutbox: sequence (8 bytes, big endian) → outboxEntry as JSON.
var bucketOutbox = []byte("outbox")

// outboxEntry is what one commit promised content: blobs to store, in
// order (a record's config before its manifest), and blobs to remove.
type outboxEntry struct {
	Write  []outboxBlob    `json:"write,omitempty"`
	Remove []digest.Digest `json:"remove,omitempty"`
}

// outboxBlob is one blob to store, with its bytes.
type outboxBlob struct {
	Descriptor ocispec.Descriptor `json:"descriptor"`
	Data       []byte             `json:"data"`
}

// promise adds e to the outbox inside tx and returns its key, for keep.
func promise(tx *bolt.Tx, e outboxEntry) ([]byte, error) {
	b := tx.Bucket(bucketOutbox)
	seq, err := b.NextSequence()
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode outbox entry: %w", err)
	}
	key := binary.BigEndian.AppendUint64(nil, seq)
	return key, b.Put(key, raw)
}

// checkpointEvery is how many kept promises wait before a commit syncs
// their records and deletes them from the outbox.
const checkpointEvery = 64

// outbox tracks the promises kept but still in the bucket. Their records
// are written but not synced: until a checkpoint syncs them, the promise
// in the index is what makes them durable (the next Open writes them
// again). It is safe for concurrent use.
type outbox struct {
	mu   sync.Mutex
	kept []keptPromise
}

// keptPromise is a promise kept, with the files it wrote.
type keptPromise struct {
	key   []byte
	paths []string
}

// done notes that the promise key is kept, having written paths.
func (o *outbox) done(key []byte, paths []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.kept = append(o.kept, keptPromise{key: key, paths: paths})
}

// take removes and returns the kept promises, or none when fewer than
// checkpointEvery wait and force is false.
func (o *outbox) take(force bool) []keptPromise {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !force && len(o.kept) < checkpointEvery {
		return nil
	}
	kept := o.kept
	o.kept = nil
	return kept
}

// giveBack notes kept promises again, when the checkpoint that took them
// did not commit.
func (o *outbox) giveBack(kept []keptPromise) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.kept = append(o.kept, kept...)
}

// checkpoint syncs the records of the kept promises (files in parallel,
// then the directories) and deletes the promises inside tx; with force
// false, only once checkpointEvery wait. The returned settle, told
// whether tx committed, gives the promises back when it did not.
func (s *Store) checkpoint(tx *bolt.Tx, force bool) (settle func(committed bool), err error) {
	kept := s.outbox.take(force)
	settle = func(committed bool) {
		if !committed && len(kept) > 0 {
			s.outbox.giveBack(kept)
		}
	}
	if len(kept) == 0 {
		return settle, nil
	}
	var paths []string
	for _, k := range kept {
		paths = append(paths, k.paths...)
	}
	if err := s.syncFiles(paths); err != nil {
		return settle, err
	}
	b := tx.Bucket(bucketOutbox)
	for _, k := range kept {
		if err := b.Delete(k.key); err != nil {
			return settle, err
		}
	}
	return settle, nil
}

// syncFiles fsyncs the files at paths in parallel, skipping those gone
// (a record GC or DeleteVersion removed since), then the dirty
// directories.
func (s *Store) syncFiles(paths []string) error {
	slices.Sort(paths)
	paths = slices.Compact(paths)
	if !s.dirs.noSync {
		errs := make([]error, len(paths))
		var wg sync.WaitGroup
		for i, p := range paths {
			wg.Go(func() {
				if err := syncFile(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
					errs[i] = fmt.Errorf("sync %s: %w", p, err)
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return s.dirs.sync()
}

// syncFile fsyncs the file at path.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// update runs fn in a read-write transaction, which is also a checkpoint
// once enough promises are kept. Every index write but Open's first goes
// through it.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	return s.updateCheckpoint(fn, false)
}

// updateCheckpoint is update, forcing the checkpoint when force is set.
func (s *Store) updateCheckpoint(fn func(*bolt.Tx) error, force bool) error {
	var settle func(bool)
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if settle, err = s.checkpoint(tx, force); err != nil {
			return err
		}
		return fn(tx)
	})
	if settle != nil {
		settle(err == nil)
	}
	return err
}

// keep does what the committed promise e (under key) says, leaving the
// syncing to a later checkpoint: the promise stays in the index until
// then. Its failure leaves the promise for the next Open, Reindex or GC;
// the caller reports that its change is committed but not yet recorded in
// content.
func (s *Store) keep(ctx context.Context, key []byte, e outboxEntry) error {
	paths, err := s.apply(ctx, e, false)
	if err != nil {
		return err
	}
	s.outbox.done(key, paths)
	return nil
}

// apply writes the blobs of e, unsynced, and removes its removals. It
// writes only the blobs content lacks, unless overwrite is set: after a
// power loss, a record written but never synced may have its name and
// not its bytes. It returns the paths of all of e's blobs, for a
// checkpoint to sync.
func (s *Store) apply(ctx context.Context, e outboxEntry, overwrite bool) ([]string, error) {
	batch := s.newBatch()
	batch.lazy = true
	defer batch.discard()
	paths := make([]string, 0, len(e.Write))
	for _, b := range e.Write {
		var err error
		if overwrite {
			err = batch.add(b.Descriptor, bytes.NewReader(b.Data))
		} else {
			err = s.pushBytes(ctx, batch, b.Descriptor, b.Data)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Descriptor.Digest, err)
		}
		paths = append(paths, s.blobPath(b.Descriptor))
	}
	if err := batch.commit(); err != nil {
		return nil, err
	}
	for _, d := range e.Remove {
		if err := s.removeBlob(ocispec.Descriptor{Digest: d}); err != nil {
			return nil, fmt.Errorf("%s: remove: %w", d, err)
		}
	}
	return paths, nil
}

// flush keeps every promise in the outbox, oldest first, writing their
// records again whether content has them or not, syncs them and empties
// the outbox. The caller holds
// writeMu (or is Open), so that no commit adds to it meanwhile. It fails
// when the index cannot be read or content written; the promises from
// the first that failed on stay in the outbox.
func (s *Store) flush(ctx context.Context) error {
	var (
		keys    [][]byte
		entries []outboxEntry
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).ForEach(func(k, raw []byte) error {
			var e outboxEntry
			if err := json.Unmarshal(raw, &e); err != nil {
				return fmt.Errorf("outbox %x: %w", k, err)
			}
			keys, entries = append(keys, append([]byte(nil), k...)), append(entries, e)
			return nil
		})
	})
	if err != nil {
		return translate(err)
	}
	if len(entries) == 0 {
		return nil
	}
	var failed error
	for i, e := range entries {
		// In order, stopping at the first failure: a later promise may
		// remove what an earlier one writes.
		paths, err := s.apply(ctx, e, true)
		if err != nil {
			failed = fmt.Errorf("outbox %x: %w", keys[i], err)
			break
		}
		s.outbox.done(keys[i], paths)
	}
	err = s.updateCheckpoint(func(*bolt.Tx) error { return nil }, true)
	return errors.Join(failed, translate(err))
}
