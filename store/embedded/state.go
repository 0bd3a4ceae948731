package embedded

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/capcenter/capcenter/store"
)

// SetState yanks, unyanks, deprecates or undeprecates a version and
// returns it as it now is. The index commits the new state together with
// the promise of a state record (a referrer of the version's manifest),
// which is then written into content before SetState returns, so Reindex
// restores exactly the state the index has; a record that cannot be
// written returns an error with the state changed (the next Open,
// Reindex or GC writes it). A change that changes nothing writes nothing.
// An unknown capability or version wraps store.ErrNotFound; a change that
// sets both or neither of Yank and Deprecate wraps store.ErrInvalidArgument.
func (s *Store) SetState(ctx context.Context, name, version string, ch store.StateChange) (store.Version, error) {
	subject := name + "@" + version
	if err := s.ready(ctx); err != nil {
		return store.Version{}, fmt.Errorf("%s: %w", subject, err)
	}
	if ch.Yank == ch.Deprecate {
		return store.Version{}, fmt.Errorf("%s: state change: %w: set exactly one of yank and deprecate", subject, store.ErrInvalidArgument)
	}
	s.contentMu.RLock() // until the record is kept: GC must not take it
	defer s.contentMu.RUnlock()
	// Serialize state changes so each one starts from the last committed.
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var (
		e   entry
		old state
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if e, err = readEntry(tx, name, version); err != nil {
			return err
		}
		old, err = readState(tx, versionKey(name, version))
		return err
	})
	if err != nil {
		return store.Version{}, translate(err)
	}
	next := change(old, ch)
	if next == old {
		return e.Version, nil
	}
	now := time.Now().UTC()
	next.Seq = max(now.UnixNano(), old.Seq+1)
	manifest := ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest(e.Version.Digest),
		Size: e.ManifestSize, ArtifactType: s.artifactType,
	}
	_, blobs, err := s.key.newRecord(stateRecordType, manifest, now, stateRecord{Name: name, Version: version, state: next})
	if err != nil {
		return store.Version{}, fmt.Errorf("%s: state record: %w", subject, err)
	}
	rec := outboxEntry{Write: blobs}
	key, err := s.commitState(ctx, name, version, next, rec)
	if err != nil {
		return store.Version{}, err
	}
	next.apply(&e.Version)
	if err := s.keep(ctx, key, rec); err != nil {
		return e.Version, fmt.Errorf("%s: changed, but its state record is not in content yet (the next Open keeps it): %w", subject, err)
	}
	return e.Version, nil
}

// change applies ch to st, keeping st.Seq.
func change(st state, ch store.StateChange) state {
	switch {
	case ch.Yank && ch.Undo:
		st.Yanked, st.YankReason = false, ""
	case ch.Yank:
		st.Yanked, st.YankReason = true, ch.Message
	case ch.Undo:
		st.Deprecated, st.DeprecationMessage = false, ""
	default:
		st.Deprecated, st.DeprecationMessage = true, ch.Message
	}
	return st
}

// commitState writes a version's state, promising its record rec in the
// same transaction, and tells the catalog. It returns the promise's key.
// The caller holds writeMu.
func (s *Store) commitState(ctx context.Context, name, version string, st state, rec outboxEntry) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s@%s: %w", name, version, err)
	}
	var key []byte
	err := s.update(func(tx *bolt.Tx) error {
		k := versionKey(name, version)
		if tx.Bucket(bucketVersions).Get(k) == nil {
			return fmt.Errorf("%s@%s: %w", name, version, store.ErrNotFound)
		}
		var err error
		if key, err = promise(tx, rec); err != nil {
			return err
		}
		return writeState(tx, k, st)
	})
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			err = fmt.Errorf("%s@%s: %w", name, version, translate(err))
		}
		return nil, err
	}
	s.catalog.setYanked(name, version, st.Yanked)
	return key, nil
}
