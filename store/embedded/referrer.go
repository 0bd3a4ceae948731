package embedded

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
	"oras.land/oras-go/v2/content"

	"github.com/capcenter/capcenter/store"
)

// pendingReferrer is a referrer manifest read from a caller's content and
// checked, not yet stored.
type pendingReferrer struct {
	desc     ocispec.Descriptor
	raw      []byte
	manifest ocispec.Manifest
}

// AddReferrer stores the manifest desc, read from src with its config and
// layers, as a referrer of name@version, and returns the version as it now
// is. The blobs are pushed first (each verified against its digest and
// size, and synced), then the manifest, then the index commits the
// referrer together with the promise of its referrer record, which is
// then written (see referrerrecord.go); it is not visible before that
// commit, and Reindex restores it only from the record. A record that
// cannot be written after the commit returns an error with the referrer
// added (the next Open, Reindex or GC writes it). A referrer the version
// already has changes nothing and src is not read. version must be exact:
// "latest" wraps store.ErrNotFound like any version that is not indexed,
// and so does a version deleted (or published again with another
// manifest) before the commit. A
// descriptor that is not an OCI image manifest of at most 4 MiB, bytes that
// do not match it or do not parse, a subject other than the version's
// manifest, or an artifactType the store keeps for itself wraps
// store.ErrInvalidArgument. Content src cannot provide fails with src's
// error; the blobs already pushed stay on disk unreferenced.
func (s *Store) AddReferrer(ctx context.Context, name, version string, desc ocispec.Descriptor, src content.Fetcher) (store.Version, error) {
	subject := name + "@" + version
	if err := s.ready(ctx); err != nil {
		return store.Version{}, fmt.Errorf("%s: %w", subject, err)
	}
	if src == nil {
		return store.Version{}, fmt.Errorf("%s: content: %w: nil", subject, store.ErrInvalidArgument)
	}
	var e entry
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		e, err = readEntry(tx, name, version)
		return err
	})
	if err != nil {
		return store.Version{}, translate(err)
	}
	if hasReferrer(e.Version.Referrers, desc.Digest.String()) {
		return e.Version, nil
	}
	ref, err := s.readReferrer(ctx, src, digest.Digest(e.Version.Digest), desc)
	if err != nil {
		return store.Version{}, fmt.Errorf("%s: %w", subject, err)
	}
	s.contentMu.RLock() // until the commit: GC must not take what this pushes or finds
	defer s.contentMu.RUnlock()
	batch := s.newBatch()
	defer batch.discard()
	if err := s.pushReferrers(ctx, batch, src, []pendingReferrer{ref}); err != nil {
		return store.Version{}, fmt.Errorf("%s: %w", subject, err)
	}
	if err := batch.commit(); err != nil {
		return store.Version{}, fmt.Errorf("%s: %w", subject, err)
	}
	if err := s.dirs.sync(); err != nil {
		return store.Version{}, fmt.Errorf("%s: %w", subject, err)
	}
	recs, blobs, err := s.key.referrerRecords(s.capabilityManifest(e), name, version, time.Now().UTC(), []store.Referrer{ref.referrer()})
	if err != nil {
		return store.Version{}, fmt.Errorf("%s: %w", subject, err)
	}
	s.recordMu.RLock() // until the record is written: see DeleteVersion
	defer s.recordMu.RUnlock()
	rec := outboxEntry{Write: blobs}
	out, key, err := s.commitReferrer(ctx, e.Version.Digest, ref.referrer(), recs, rec)
	if err != nil {
		return store.Version{}, fmt.Errorf("%s: %w", subject, err)
	}
	if key == nil {
		return out, nil
	}
	if err := s.keep(ctx, key, rec); err != nil {
		return out, fmt.Errorf("%s: added, but its referrer record is not in content yet (the next Open keeps it): %w", subject, err)
	}
	return out, nil
}

// commitReferrer adds r to the index entry of the version whose manifest
// is manifest, unless it is there, promising rec (its referrer record,
// whose digests are recs) in the same transaction, and returns the
// version with its state and the promise's key (nil when the version had
// r already). The read and the write share one transaction, so
// concurrent calls on one version all land. A version deleted meanwhile,
// or deleted and published again with another manifest, wraps
// store.ErrNotFound. The caller adds the subject to errors.
func (s *Store) commitReferrer(ctx context.Context, manifest string, r store.Referrer, recs []string, rec outboxEntry) (store.Version, []byte, error) {
	if err := ctx.Err(); err != nil {
		return store.Version{}, nil, err
	}
	var (
		out  store.Version
		key  []byte
		name string
	)
	err := s.commits.do(func(tx *bolt.Tx) error {
		key = nil
		vk := tx.Bucket(bucketDigests).Get([]byte(manifest))
		if vk == nil {
			return fmt.Errorf("manifest %s: %w", manifest, store.ErrNotFound)
		}
		var version string
		name, version = splitKey(vk)
		e, err := readStoredEntry(tx, name, version)
		if err != nil {
			return err
		}
		st, err := readState(tx, vk)
		if err != nil {
			return err
		}
		if !hasReferrer(e.Version.Referrers, r.Digest) {
			e.Version.Referrers = sortReferrers(append(e.Version.Referrers, r))
			e.ReferrerRecords = slices.Sorted(slices.Values(append(slices.Clone(e.ReferrerRecords), recs...)))
			if key, err = promise(tx, rec); err != nil {
				return err
			}
			if err := putEntry(tx, e); err != nil {
				return err
			}
		}
		st.apply(&e.Version)
		out = e.Version
		return nil
	}, func() { s.links.invalidate(name) })
	if err != nil {
		return store.Version{}, nil, translate(err)
	}
	return out, key, nil
}

// readReferrers reads and checks every referrer of a publication, each
// digest once, before anything is stored.
func (s *Store) readReferrers(ctx context.Context, p store.Publication) ([]pendingReferrer, error) {
	var refs []pendingReferrer
	for _, desc := range p.Referrers {
		if slices.ContainsFunc(refs, func(r pendingReferrer) bool { return r.desc.Digest == desc.Digest }) {
			continue
		}
		ref, err := s.readReferrer(ctx, p.Content, p.Manifest.Digest, desc)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// readReferrer fetches the manifest desc from src and checks that it is
// an OCI image manifest of at most maxManifestSize whose subject is the
// manifest subject, and not of an artifact type the store writes or
// catalogs itself (Reindex would take it for one of those). Every failure
// of the manifest itself wraps store.ErrInvalidArgument; src's own
// failures are returned as they are.
func (s *Store) readReferrer(ctx context.Context, src content.Fetcher, subject digest.Digest, desc ocispec.Descriptor) (pendingReferrer, error) {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("referrer %s: %w: %s", desc.Digest, store.ErrInvalidArgument, fmt.Sprintf(format, args...))
	}
	switch {
	case desc.MediaType != ocispec.MediaTypeImageManifest:
		return pendingReferrer{}, invalid("media type %q, want %s", desc.MediaType, ocispec.MediaTypeImageManifest)
	case desc.Size < 0 || desc.Size > maxManifestSize:
		return pendingReferrer{}, invalid("size %d, want at most %d bytes", desc.Size, maxManifestSize)
	}
	if err := desc.Digest.Validate(); err != nil {
		return pendingReferrer{}, invalid("%v", err)
	}
	raw, err := content.FetchAll(ctx, src, desc)
	switch {
	case errors.Is(err, content.ErrMismatchedDigest) || errors.Is(err, content.ErrTrailingData) || errors.Is(err, io.ErrUnexpectedEOF):
		return pendingReferrer{}, invalid("%v", err)
	case err != nil:
		return pendingReferrer{}, fmt.Errorf("fetch referrer %s: %w", desc.Digest, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return pendingReferrer{}, invalid("%v", err)
	}
	switch {
	case m.MediaType != ocispec.MediaTypeImageManifest:
		return pendingReferrer{}, invalid("manifest mediaType %q, want %s", m.MediaType, ocispec.MediaTypeImageManifest)
	case m.Subject == nil:
		return pendingReferrer{}, invalid("no subject, want %s", subject)
	case m.Subject.Digest != subject:
		return pendingReferrer{}, invalid("subject %s, want %s", m.Subject.Digest, subject)
	case m.ArtifactType == s.artifactType || isRecord(m):
		return pendingReferrer{}, invalid("artifactType %q is the store's own", m.ArtifactType)
	}
	return pendingReferrer{desc: desc, raw: raw, manifest: m}, nil
}

// pushReferrers stages in b the config and layers of every referrer from
// src, then the referrer manifests, so that no manifest is stored before
// every blob of every referrer is.
func (s *Store) pushReferrers(ctx context.Context, b *ingestBatch, src content.Fetcher, refs []pendingReferrer) error {
	for _, r := range refs {
		for _, desc := range append([]ocispec.Descriptor{r.manifest.Config}, r.manifest.Layers...) {
			err := s.pushReader(ctx, b, desc, func() (io.ReadCloser, error) {
				rc, err := src.Fetch(ctx, desc)
				if err != nil {
					return nil, fmt.Errorf("referrer %s: fetch %s: %w", r.desc.Digest, desc.Digest, err)
				}
				return rc, nil
			})
			if err != nil {
				return err
			}
		}
	}
	for _, r := range refs {
		if err := s.pushBytes(ctx, b, r.desc, r.raw); err != nil {
			return fmt.Errorf("referrer %s: %w", r.desc.Digest, err)
		}
	}
	return nil
}

// referrer describes the pending referrer as the index keeps it.
func (r pendingReferrer) referrer() store.Referrer {
	return referrerOf(r.desc, r.manifest)
}

// referrerOf describes the referrer manifest m, stored as desc. Its
// artifact type falls back to the config media type, as the OCI referrers
// API reports it; empty annotations become nil, so a referrer reads the
// same before and after Reindex.
func referrerOf(desc ocispec.Descriptor, m ocispec.Manifest) store.Referrer {
	r := store.Referrer{
		Digest: desc.Digest.String(), Size: desc.Size,
		ArtifactType: cmp.Or(m.ArtifactType, m.Config.MediaType), Annotations: m.Annotations,
	}
	if len(r.Annotations) == 0 {
		r.Annotations = nil
	}
	return r
}

// referrersOf describes pending referrers in the store's order.
func referrersOf(refs []pendingReferrer) []store.Referrer {
	out := make([]store.Referrer, 0, len(refs))
	for _, r := range refs {
		out = append(out, r.referrer())
	}
	return sortReferrers(out)
}

// sortReferrers sorts refs in place by created annotation, missing or
// unparsable first, then by digest, and returns refs. Empty becomes nil.
func sortReferrers(refs []store.Referrer) []store.Referrer {
	if len(refs) == 0 {
		return nil
	}
	slices.SortFunc(refs, func(a, b store.Referrer) int {
		ta, okA := referrerCreated(a)
		tb, okB := referrerCreated(b)
		return cmp.Or(compareBool(okA, okB), ta.Compare(tb), cmp.Compare(a.Digest, b.Digest))
	})
	return refs
}

// referrerCreated parses the created annotation; false when it is missing
// or not RFC 3339.
func referrerCreated(r store.Referrer) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, r.Annotations[ocispec.AnnotationCreated])
	return t, err == nil
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

// hasReferrer reports whether refs holds the manifest dgst.
func hasReferrer(refs []store.Referrer, dgst string) bool {
	return slices.ContainsFunc(refs, func(r store.Referrer) bool { return r.Digest == dgst })
}
