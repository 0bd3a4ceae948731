package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"

	"github.com/capcenter/capcenter/store"
)

// DefaultArtifactType is the artifactType of the manifests the store
// publishes and Reindex catalogs when Options.ArtifactType is empty. It
// equals capabilities.ArtifactType; the store does not import that package.
const DefaultArtifactType = "application/vnd.capcenter.capability.v1"

// DefaultLockTimeout is how long Open waits for the index file lock when
// Options.LockTimeout is zero.
const DefaultLockTimeout = time.Second

// maxManifestSize bounds the manifests Publish reads and Reindex parses, as
// registries do (distribution refuses manifests over 4 MiB).
const maxManifestSize = 4 << 20

// Options configures Open. The zero value is ready to use.
type Options struct {
	// LockTimeout is how long Open waits for the index file lock held by
	// another Store (in this or another process) before it fails. Zero
	// means DefaultLockTimeout; it is never unbounded.
	LockTimeout time.Duration
	// ArtifactType is the artifactType a published manifest must carry and
	// that Reindex looks for. Empty means DefaultArtifactType.
	ArtifactType string
	// NoSync skips fsync on every index commit. It is for benchmarks and
	// throwaway stores only: a crash may lose or corrupt the index (which
	// Reindex can rebuild from content).
	NoSync bool
	// TrustUnauthenticatedRecords makes Reindex and GC act on every record
	// in content, whether or not its MAC is right, as stores did before
	// records were authenticated; a Reindex then records the index it
	// rebuilt again under the store's key. It is for recovering a store
	// whose index.db is lost together with its key file, or that predates
	// record keys: it trusts records anyone allowed to push a blob could
	// have forged. Never set it on a store that serves.
	TrustUnauthenticatedRecords bool
}

// Store is the embedded backend of store.Store: content-addressed blobs on
// disk under dir/content, a bbolt index at dir/index.db, and an in-memory
// catalog for search. It is safe for concurrent use.
type Store struct {
	dir          string
	artifactType string
	content      *oci.Storage
	db           *bolt.DB
	closed       atomic.Bool
	// key seals the records the store writes; trustAll is
	// Options.TrustUnauthenticatedRecords.
	key      recordKey
	trustAll bool

	// writeMu orders index commits with the catalog updates that follow
	// them, serializes SetState's read-modify-write, and keeps Publish from
	// committing while Reindex rebuilds.
	writeMu sync.Mutex
	// contentMu keeps GC from deciding while content is in flight: every
	// call that writes content and then commits a reference to it (or
	// finds content already stored and commits a reference to that) holds
	// it for reading from its first content check until its commit and
	// the record the commit promised are done; GC holds it for writing.
	// Take it before writeMu, never while holding writeMu.
	contentMu sync.RWMutex
	// recordMu keeps a publish or referrer record from being written
	// after its version is deleted: Publish and AddReferrer hold it for
	// reading from their commit until their records are written,
	// DeleteVersion for writing from its commit until the records are
	// removed. Take it after contentMu and
	// before writeMu.
	recordMu sync.RWMutex
	// commits shares index transactions between concurrent publishes.
	commits *groupCommit
	// dirs holds the content directories to sync before a commit.
	dirs dirSync
	// outbox notes the promises kept, for the next commit to delete.
	outbox  outbox
	catalog *catalog
	// links caches what each capability's repository holds for /v2/.
	links *linkCache
}

// Store implements the contract.
var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store in dir and loads its catalog.
// It reads the store's record key from dir/record.key, creating it (mode
// 0600) when the file is missing, and records the index again under it
// when the index was not recorded under this key (see doc.go). It fails
// when dir cannot be created, when another Store holds the index lock
// past Options.LockTimeout, when the index is not a valid bbolt file
// (Reindex from a fresh index.db recovers it), when the key file cannot
// be read or created or does not hold a key, or when the records the
// outbox promised cannot be written into content.
func Open(dir string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.ArtifactType == "" {
		opts.ArtifactType = DefaultArtifactType
	}
	contentDir := filepath.Join(dir, "content")
	if err := prepareContent(contentDir, opts.NoSync); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	cs, err := oci.NewStorage(contentDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", contentDir, err)
	}
	dbPath := filepath.Join(dir, "index.db")
	db, err := bolt.Open(dbPath, 0o600, &bolt.Options{Timeout: opts.LockTimeout, NoSync: opts.NoSync})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%s: locked by another open store (waited %s)", dbPath, opts.LockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dbPath, err)
	}
	key, err := loadKey(dir)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s := &Store{
		dir: dir, artifactType: opts.ArtifactType, content: cs, db: db, links: newLinkCache(),
		key: key, trustAll: opts.TrustUnauthenticatedRecords,
	}
	s.dirs.noSync = opts.NoSync
	s.commits = &groupCommit{update: s.update, writeMu: &s.writeMu}
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%s: %w", dbPath, err)
	}
	return s, nil
}

// load creates the buckets if needed, records the index when content
// holds no records of it under the store's key (adopt), keeps the
// promises a stopped process left in the outbox, and builds the catalog
// from the index.
func (s *Store) load() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range slices.Concat(allBuckets, ociBuckets, [][]byte{bucketOutbox, bucketMeta}) {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.adopt(); err != nil {
		return fmt.Errorf("record the index: %w", err)
	}
	if err := s.flush(context.Background()); err != nil {
		return fmt.Errorf("keep the outbox: %w", err)
	}
	var c *catalog
	err = s.db.View(func(tx *bolt.Tx) error {
		var err error
		c, err = loadCatalog(tx)
		return err
	})
	s.catalog = c
	return err
}

// Close syncs the records written since the last checkpoint, deleting
// their promises from the outbox, then releases the index file and its
// lock. It is idempotent; every method called afterwards wraps
// store.ErrClosed. It fails when the index cannot be closed; records it
// cannot sync stay promised, for the next Open to write again.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	cperr := s.updateCheckpoint(func(*bolt.Tx) error { return nil }, true)
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("%s: close index: %w", s.dir, err)
	}
	if cperr != nil {
		return fmt.Errorf("%s: sync records: %w", s.dir, cperr)
	}
	return nil
}

// Fetch opens a blob or manifest by digest. A blob the content does not
// hold wraps store.ErrNotFound; a malformed digest wraps
// store.ErrInvalidArgument.
func (s *Store) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	rc, err := s.content.Fetch(ctx, desc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", desc.Digest, translate(err))
	}
	return rc, nil
}

// ready fails when the store is closed or ctx is done; every method calls
// it before touching the index.
func (s *Store) ready(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return ctx.Err()
}

// translate maps bbolt and oras errors onto the store sentinels; the
// caller adds the subject.
func translate(err error) error {
	switch {
	case errors.Is(err, bolterrors.ErrDatabaseNotOpen):
		return fmt.Errorf("%w: %w", store.ErrClosed, err)
	case errors.Is(err, errdef.ErrNotFound):
		return store.ErrNotFound
	case errors.Is(err, errdef.ErrInvalidDigest):
		return fmt.Errorf("%w: invalid digest", store.ErrInvalidArgument)
	}
	return err
}
