package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
	"oras.land/oras-go/v2/content"

	"github.com/capcenter/capcenter/store"
)

// Publish stores a version: every blob the manifest references (skipping
// those already stored), the manifest, the blobs and then the manifests of
// its referrers, each synced; then the index in one bbolt transaction that
// also promises the publish record and a referrer record per referrer,
// after which the catalog shows it; then the records (see outbox.go). Before that commit nothing of it is
// visible; content written by a publish that fails stays on disk
// unreferenced. A record that cannot be written after the commit returns
// an error with the version published (the next Open, Reindex or GC
// writes it). Publishing the same digest again returns the stored
// version with created false and ignores p.Referrers; another
// digest under an existing version, or this digest under another version,
// wraps store.ErrAlreadyExists naming what is stored. A malformed
// publication (empty name, version not strict semver, a manifest that is
// not an OCI image manifest of the store's artifact type, a referrer that
// AddReferrer would refuse) wraps store.ErrInvalidArgument; content
// Publication.Content cannot provide fails with its error.
func (s *Store) Publish(ctx context.Context, p store.Publication) (store.Version, bool, error) {
	subject := p.Version.Name + "@" + p.Version.Version
	if err := s.ready(ctx); err != nil {
		return store.Version{}, false, fmt.Errorf("%s: %w", subject, err)
	}
	if err := validate(p); err != nil {
		return store.Version{}, false, fmt.Errorf("%s: %w", subject, err)
	}
	if v, found, err := s.lookup(p); found || err != nil {
		return v, false, err
	}
	s.contentMu.RLock() // until the record is kept: GC must not take what this pushes or finds
	defer s.contentMu.RUnlock()
	batch := s.newBatch()
	defer batch.discard()
	v, err := s.pushPublication(ctx, batch, p)
	if err != nil {
		return store.Version{}, false, fmt.Errorf("%s: %w", subject, err)
	}
	if err := batch.commit(); err != nil {
		return store.Version{}, false, fmt.Errorf("%s: %w", subject, err)
	}
	rec, blobs, err := s.key.newRecord(publishRecordType, p.Manifest, v.Created, publishRecord{Name: v.Name, Version: v.Version, Created: v.Created})
	if err != nil {
		return store.Version{}, false, fmt.Errorf("%s: publish record: %w", subject, err)
	}
	refRecs, refBlobs, err := s.key.referrerRecords(p.Manifest, v.Name, v.Version, v.Created, v.Referrers)
	if err != nil {
		return store.Version{}, false, fmt.Errorf("%s: %w", subject, err)
	}
	if err := s.dirs.sync(); err != nil {
		return store.Version{}, false, fmt.Errorf("%s: %w", subject, err)
	}
	s.recordMu.RLock() // until the records are written: see DeleteVersion
	defer s.recordMu.RUnlock()
	recs := outboxEntry{Write: append(blobs, refBlobs...)}
	e := entry{Version: v, Record: rec.Digest.String(), ManifestSize: p.Manifest.Size, ReferrerRecords: refRecs}
	out, key, err := s.commit(ctx, e, recs)
	if err != nil {
		return store.Version{}, false, err
	}
	if key == nil {
		return out, false, nil
	}
	if err := s.keep(ctx, key, recs); err != nil {
		return out, true, fmt.Errorf("%s: published, but its records are not in content yet (the next Open keeps them): %w", subject, err)
	}
	return out, true, nil
}

// pushPublication checks the publication's referrers, then stages its
// content in b (the version's blobs and manifest, then the referrers'
// blobs and manifests) and returns the version to index, created now.
func (s *Store) pushPublication(ctx context.Context, b *ingestBatch, p store.Publication) (store.Version, error) {
	refs, err := s.readReferrers(ctx, p)
	if err != nil {
		return store.Version{}, err
	}
	size, err := s.pushContent(ctx, b, p)
	if err != nil {
		return store.Version{}, err
	}
	if err := s.pushReferrers(ctx, b, p.Content, refs); err != nil {
		return store.Version{}, err
	}
	v := catalogFields(p.Version)
	v.Digest, v.Size, v.Created = p.Manifest.Digest.String(), size, time.Now().UTC()
	v.Referrers = referrersOf(refs)
	return v, nil
}

// validate refuses publications the index could not key or Reindex could
// not find again.
func validate(p store.Publication) error {
	v := p.Version
	switch {
	case v.Name == "" || strings.ContainsRune(v.Name, 0):
		return fmt.Errorf("name %q: %w", v.Name, store.ErrInvalidArgument)
	case p.Manifest.MediaType != ocispec.MediaTypeImageManifest:
		return fmt.Errorf("manifest media type %q: %w: want %s", p.Manifest.MediaType, store.ErrInvalidArgument, ocispec.MediaTypeImageManifest)
	case p.Manifest.Size > maxManifestSize:
		return fmt.Errorf("manifest size %d: %w: over %d bytes", p.Manifest.Size, store.ErrInvalidArgument, maxManifestSize)
	case p.Content == nil:
		return fmt.Errorf("content: %w: nil", store.ErrInvalidArgument)
	}
	if _, err := semver.StrictNewVersion(v.Version); err != nil {
		return fmt.Errorf("version %q: %w: %w", v.Version, store.ErrInvalidArgument, err)
	}
	if err := p.Manifest.Digest.Validate(); err != nil {
		return fmt.Errorf("manifest digest %q: %w: %w", p.Manifest.Digest, store.ErrInvalidArgument, err)
	}
	return nil
}

// catalogFields keeps the fields a publisher provides, Name through Readme.
func catalogFields(v store.Version) store.Version {
	return store.Version{
		Name: v.Name, Version: v.Version, Kind: v.Kind, Description: v.Description,
		Keywords: v.Keywords, Dependencies: v.Dependencies, Kubernetes: v.Kubernetes,
		AppliesTo: v.AppliesTo, Source: v.Source, ParameterSchema: v.ParameterSchema, Readme: v.Readme,
	}
}

// lookup answers a publish of an already indexed version without writing:
// found with the stored version when the digest is the same, an error
// wrapping store.ErrAlreadyExists when it is not.
func (s *Store) lookup(p store.Publication) (store.Version, bool, error) {
	var v store.Version
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = readVersion(tx, p.Version.Name, p.Version.Version)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Version{}, false, nil
	case err != nil:
		return store.Version{}, false, translate(err)
	case v.Digest != p.Manifest.Digest.String():
		return store.Version{}, false, fmt.Errorf("%s@%s: %w: published as %s", v.Name, v.Version, store.ErrAlreadyExists, v.Digest)
	}
	return v, true, nil
}

// pushContent stages in b the manifest and every blob it references from
// p.Content, blobs first, and returns the version's size: manifest,
// config and layers.
func (s *Store) pushContent(ctx context.Context, b *ingestBatch, p store.Publication) (int64, error) {
	raw, err := content.FetchAll(ctx, p.Content, p.Manifest)
	if err != nil {
		return 0, fmt.Errorf("fetch manifest %s: %w", p.Manifest.Digest, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return 0, fmt.Errorf("manifest %s: %w: %w", p.Manifest.Digest, store.ErrInvalidArgument, err)
	}
	if m.MediaType != ocispec.MediaTypeImageManifest || m.ArtifactType != s.artifactType {
		return 0, fmt.Errorf("manifest %s: %w: mediaType %q artifactType %q, want %s and %s",
			p.Manifest.Digest, store.ErrInvalidArgument, m.MediaType, m.ArtifactType, ocispec.MediaTypeImageManifest, s.artifactType)
	}
	size := p.Manifest.Size
	for _, desc := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		err := s.pushReader(ctx, b, desc, func() (io.ReadCloser, error) {
			rc, err := p.Content.Fetch(ctx, desc)
			if err != nil {
				return nil, fmt.Errorf("fetch %s: %w", desc.Digest, err)
			}
			return rc, nil
		})
		if err != nil {
			return 0, err
		}
		size += desc.Size
	}
	return size, s.pushBytes(ctx, b, p.Manifest, raw)
}

// commit indexes e in one transaction that also promises rec (e's publish
// and referrer records), then adds it to the catalog. It returns the version as stored
// and, when this call created it, the key of the promise; nil when an
// equal publish won the race. It wraps store.ErrAlreadyExists when the
// version or the digest is taken by other content.
func (s *Store) commit(ctx context.Context, e entry, rec outboxEntry) (store.Version, []byte, error) {
	v := e.Version
	subject := v.Name + "@" + v.Version
	if err := ctx.Err(); err != nil {
		return store.Version{}, nil, fmt.Errorf("%s: %w", subject, err)
	}
	vi, err := newVerInfo(v)
	if err != nil {
		return store.Version{}, nil, err
	}
	// The catalog keeps its own keywords: v's are the publisher's and are
	// returned to it.
	vi.keywords = slices.Clone(vi.keywords)
	var (
		out entry
		key []byte
	)
	err = s.commits.do(func(tx *bolt.Tx) error {
		key = nil
		stored, err := readEntry(tx, v.Name, v.Version)
		switch {
		case err == nil && stored.Version.Digest == v.Digest:
			out = stored
			return nil
		case err == nil:
			return fmt.Errorf("%s: %w: published as %s", subject, store.ErrAlreadyExists, stored.Version.Digest)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if other := tx.Bucket(bucketDigests).Get([]byte(v.Digest)); other != nil {
			name, version := splitKey(other)
			return fmt.Errorf("%s: %w: manifest %s is published as %s@%s", subject, store.ErrAlreadyExists, v.Digest, name, version)
		}
		out = e
		if key, err = promise(tx, rec); err != nil {
			return err
		}
		return writeVersion(tx, e)
	}, func() {
		if key != nil {
			s.catalog.publish(v.Name, vi)
			s.links.invalidate(v.Name)
		}
	})
	if err != nil {
		return store.Version{}, nil, translate(err)
	}
	return out.Version, key, nil
}
