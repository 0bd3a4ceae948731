package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"

	"github.com/capcenter/capcenter/store"
)

// The buckets of plain OCI content (see store.Repositories). Every change
// to them is made by applyRepo and recorded in content as a repository
// record (reporecord.go), from which Reindex rebuilds them.
var (
	// bucketRepos: repo → empty, every repository holding plain content.
	bucketRepos = []byte("oci.repos")
	// bucketBlobs: repo NUL digest → size (decimal), a blob linked in repo.
	bucketBlobs = []byte("oci.blobs")
	// bucketManifests: repo NUL digest → plainManifest as JSON.
	bucketManifests = []byte("oci.manifests")
	// bucketTags: repo NUL tag → manifest digest.
	bucketTags = []byte("oci.tags")
	// bucketSubjects: repo NUL subject NUL digest → empty, the referrers
	// of every subject.
	bucketSubjects = []byte("oci.subjects")
	ociBuckets     = [][]byte{bucketRepos, bucketBlobs, bucketManifests, bucketTags, bucketSubjects}
)

// plainManifest is the value of bucketManifests.
type plainManifest struct {
	Descriptor ocispec.Descriptor `json:"descriptor"`
	Subject    digest.Digest      `json:"subject,omitempty"`
}

// Repositories is implemented too.
var _ store.Repositories = (*Store)(nil)

// repoKey is repo NUL rest NUL …; NUL sorts before every character a
// repository name, tag or digest holds, so repoKey(repo, "") is the prefix
// of everything in repo.
func repoKey(repo string, rest ...string) []byte {
	return []byte(repo + "\x00" + strings.Join(rest, "\x00"))
}

// StatBlob describes a blob linked in repo, plainly or as part of a
// capability version, or wraps store.ErrNotFound.
func (s *Store) StatBlob(ctx context.Context, repo string, dgst digest.Digest) (ocispec.Descriptor, error) {
	if err := s.ready(ctx); err != nil {
		return ocispec.Descriptor{}, err
	}
	var (
		size  int64
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		size, found = plainBlob(tx, repo, dgst)
		return nil
	})
	if err != nil {
		return ocispec.Descriptor{}, translate(err)
	}
	if found {
		return blobDescriptor(dgst, size), nil
	}
	links, err := s.links.get(ctx, s, repo)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if size, ok := links.blobs[dgst]; ok {
		return blobDescriptor(dgst, size), nil
	}
	return ocispec.Descriptor{}, fmt.Errorf("%s in %s: %w", dgst, repo, store.ErrNotFound)
}

func blobDescriptor(dgst digest.Digest, size int64) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: "application/octet-stream", Digest: dgst, Size: size}
}

// plainBlob reads a plain blob link.
func plainBlob(tx *bolt.Tx, repo string, dgst digest.Digest) (int64, bool) {
	raw := tx.Bucket(bucketBlobs).Get(repoKey(repo, dgst.String()))
	if raw == nil {
		return 0, false
	}
	var size int64
	_, err := fmt.Sscan(string(raw), &size)
	return size, err == nil
}

// PushBlob stores r as desc and links it in repo. When the content already
// holds the blob, r is still read and checked, so that no one gains a blob
// in a repository by naming its digest alone. Bytes that do not match desc
// wrap store.ErrInvalidArgument and link nothing. The bytes are synced
// before the link commits, and the link's repository record is written
// before PushBlob returns (as for every plain change); a record that
// cannot be written returns an error with the blob linked (the next Open
// writes it).
func (s *Store) PushBlob(ctx context.Context, repo string, desc ocispec.Descriptor, r io.Reader) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	if err := desc.Digest.Validate(); err != nil {
		return fmt.Errorf("blob %q: %w: %w", desc.Digest, store.ErrInvalidArgument, err)
	}
	s.contentMu.RLock() // until the link's record is kept: GC must not take what this pushes or finds
	defer s.contentMu.RUnlock()
	exists, err := s.content.Exists(ctx, desc)
	if err != nil {
		return fmt.Errorf("%s: %w", desc.Digest, translate(err))
	}
	if exists {
		err = verifyOnly(desc, r)
	} else {
		err = s.ingest(desc, r)
	}
	switch {
	case errors.Is(err, content.ErrMismatchedDigest) || errors.Is(err, content.ErrTrailingData) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errInvalidBlob):
		return fmt.Errorf("blob %s: %w: %w", desc.Digest, store.ErrInvalidArgument, err)
	case err != nil && !errors.Is(err, errdef.ErrAlreadyExists):
		return fmt.Errorf("blob %s: %w", desc.Digest, translate(err))
	}
	return s.linkBlob(ctx, repo, desc)
}

// changeRepo commits a change to plain content and its repository
// record's promise in one transaction of the group commit, after syncing
// the content it references, then keeps the promise. change runs inside
// the transaction (perhaps more than once) and returns the change, or
// false when there is nothing to change. changeRepo reports whether there
// was; it fails with change's error, the commit's, or a sync's.
func (s *Store) changeRepo(ctx context.Context, change func(tx *bolt.Tx) (repoRecord, bool, error)) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := s.dirs.sync(); err != nil {
		return false, err
	}
	var (
		key     []byte
		rec     outboxEntry
		changed bool
	)
	err := s.commits.do(func(tx *bolt.Tx) error {
		key, changed = nil, false
		r, ok, err := change(tx)
		if err != nil || !ok {
			return err
		}
		changed = true
		key, rec, err = s.key.recordRepo(tx, r)
		return err
	}, nil)
	if err != nil {
		return false, translate(err)
	}
	if !changed {
		return false, nil
	}
	if err := s.keep(ctx, key, rec); err != nil {
		return true, fmt.Errorf("changed, but its repository record is not in content yet (the next Open keeps it): %w", err)
	}
	return true, nil
}

// errInvalidBlob is the mismatch verifyOnly finds.
var errInvalidBlob = errors.New("bytes do not match the digest and size")

// verifyOnly reads r to its end and checks it against desc.
func verifyOnly(desc ocispec.Descriptor, r io.Reader) error {
	v := desc.Digest.Verifier()
	n, err := io.Copy(v, io.LimitReader(r, desc.Size+1))
	if err != nil {
		return err
	}
	if n != desc.Size || !v.Verified() {
		return errInvalidBlob
	}
	return nil
}

// linkBlob records that repo holds the blob desc. The caller holds
// contentMu for reading.
func (s *Store) linkBlob(ctx context.Context, repo string, desc ocispec.Descriptor) error {
	_, err := s.changeRepo(ctx, func(*bolt.Tx) (repoRecord, bool, error) {
		return repoRecord{Op: opLink, Repo: repo, Digest: desc.Digest, Size: desc.Size}, true, nil
	})
	if err != nil {
		return fmt.Errorf("%s in %s: %w", desc.Digest, repo, err)
	}
	return nil
}

// MountBlob links in repo a blob that from holds.
func (s *Store) MountBlob(ctx context.Context, repo, from string, dgst digest.Digest) (ocispec.Descriptor, error) {
	s.contentMu.RLock() // until the link's record is kept: GC must not take the blob found in from
	defer s.contentMu.RUnlock()
	desc, err := s.StatBlob(ctx, from, dgst)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return desc, s.linkBlob(ctx, repo, desc)
}

// DeleteBlob unlinks a plain blob from repo; the bytes stay on disk. A blob
// linked only as part of a capability version wraps store.ErrInUse.
func (s *Store) DeleteBlob(ctx context.Context, repo string, dgst digest.Digest) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	s.contentMu.RLock() // until the record is kept
	found, err := s.changeRepo(ctx, func(tx *bolt.Tx) (repoRecord, bool, error) {
		ok := tx.Bucket(bucketBlobs).Get(repoKey(repo, dgst.String())) != nil
		return repoRecord{Op: opUnlink, Repo: repo, Digest: dgst}, ok, nil
	})
	s.contentMu.RUnlock()
	if err != nil {
		return fmt.Errorf("%s in %s: %w", dgst, repo, err)
	}
	if found {
		return nil
	}
	links, err := s.links.get(ctx, s, repo)
	if err != nil {
		return err
	}
	if _, ok := links.blobs[dgst]; ok {
		return fmt.Errorf("%s in %s: %w: a blob of a capability version", dgst, repo, store.ErrInUse)
	}
	return fmt.Errorf("%s in %s: %w", dgst, repo, store.ErrNotFound)
}

// ResolveManifest describes the manifest reference names in repo: a digest,
// a capability version's tag, "latest", or a plain tag.
func (s *Store) ResolveManifest(ctx context.Context, repo, reference string) (ocispec.Descriptor, error) {
	if err := s.ready(ctx); err != nil {
		return ocispec.Descriptor{}, err
	}
	if strings.Contains(reference, ":") {
		dgst, err := digest.Parse(reference)
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("reference %q: %w: %w", reference, store.ErrInvalidArgument, err)
		}
		return s.manifestByDigest(ctx, repo, dgst)
	}
	if version, ok := s.catalog.versionOfTag(repo, reference); ok {
		var desc ocispec.Descriptor
		err := s.db.View(func(tx *bolt.Tx) error {
			e, err := readStoredEntry(tx, repo, version)
			desc = s.capabilityManifest(e)
			return err
		})
		return desc, translate(err)
	}
	var desc ocispec.Descriptor
	err := s.db.View(func(tx *bolt.Tx) error {
		d := tx.Bucket(bucketTags).Get(repoKey(repo, reference))
		if d == nil {
			return fmt.Errorf("%s:%s: %w", repo, reference, store.ErrNotFound)
		}
		pm, err := readPlainManifest(tx, repo, digest.Digest(d))
		desc = pm.Descriptor
		return err
	})
	return desc, translate(err)
}

// capabilityManifest describes a version's bundle manifest.
func (s *Store) capabilityManifest(e entry) ocispec.Descriptor {
	return ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest(e.Version.Digest),
		Size: e.ManifestSize, ArtifactType: s.artifactType,
	}
}

// manifestByDigest finds dgst in repo: a capability manifest, a plain
// manifest, or a referrer of a capability manifest.
func (s *Store) manifestByDigest(ctx context.Context, repo string, dgst digest.Digest) (ocispec.Descriptor, error) {
	var (
		desc  ocispec.Descriptor
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		if key := tx.Bucket(bucketDigests).Get([]byte(dgst)); key != nil {
			if name, version := splitKey(key); name == repo {
				e, err := readStoredEntry(tx, name, version)
				desc, found = s.capabilityManifest(e), err == nil
				return err
			}
		}
		pm, err := readPlainManifest(tx, repo, dgst)
		if err == nil {
			desc, found = pm.Descriptor, true
		}
		return nil
	})
	if err != nil || found {
		return desc, translate(err)
	}
	links, err := s.links.get(ctx, s, repo)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if d, ok := links.manifests[dgst]; ok {
		return d, nil
	}
	return ocispec.Descriptor{}, fmt.Errorf("%s@%s: %w", repo, dgst, store.ErrNotFound)
}

// readPlainManifest reads a plain manifest of repo, or wraps
// store.ErrNotFound.
func readPlainManifest(tx *bolt.Tx, repo string, dgst digest.Digest) (plainManifest, error) {
	var pm plainManifest
	raw := tx.Bucket(bucketManifests).Get(repoKey(repo, dgst.String()))
	if raw == nil {
		return pm, fmt.Errorf("%s@%s: %w", repo, dgst, store.ErrNotFound)
	}
	if err := json.Unmarshal(raw, &pm); err != nil {
		return pm, fmt.Errorf("%s@%s: decode manifest entry: %w", repo, dgst, err)
	}
	return pm, nil
}

// PutManifest stores a plain manifest in repo and tags it: the bytes,
// synced, then the index with the promise of a repository record, then
// the record. A manifest of one of the store's record types wraps
// store.ErrInvalidArgument, as Reindex would read it as a record.
func (s *Store) PutManifest(ctx context.Context, repo string, m store.Manifest, raw []byte, tags ...string) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	desc := m.Descriptor
	subject := repo + "@" + desc.Digest.String()
	if err := desc.Digest.Validate(); err != nil {
		return fmt.Errorf("%s: %w: %w", subject, store.ErrInvalidArgument, err)
	}
	if int64(len(raw)) != desc.Size || desc.Digest.Algorithm().FromBytes(raw) != desc.Digest {
		return fmt.Errorf("%s: %w: the bytes do not match the digest and size", subject, store.ErrInvalidArgument)
	}
	if int64(len(raw)) > maxManifestSize {
		return fmt.Errorf("%s: %w: %d bytes, over %d", subject, store.ErrInvalidArgument, len(raw), maxManifestSize)
	}
	switch desc.ArtifactType {
	case s.artifactType:
		return fmt.Errorf("%s: %w: a capability bundle is published, not stored as plain content", subject, store.ErrInvalidArgument)
	case publishRecordType, stateRecordType, referrerRecordType, repoRecordType:
		return fmt.Errorf("%s: %w: artifactType %q is the store's own", subject, store.ErrInvalidArgument, desc.ArtifactType)
	}
	for _, tag := range tags {
		if _, ok := s.catalog.versionOfTag(repo, tag); ok {
			return fmt.Errorf("%s:%s: %w: the tag names a capability version", repo, tag, store.ErrInUse)
		}
	}
	s.contentMu.RLock() // until the record is kept: GC must not take what this pushes or checks
	defer s.contentMu.RUnlock()
	links, err := s.links.get(ctx, s, repo)
	if err != nil {
		return err
	}
	if m.Subject != nil {
		if d, err := s.manifestByDigest(ctx, repo, m.Subject.Digest); err == nil && d.ArtifactType == s.artifactType {
			return fmt.Errorf("%s: %w: a referrer of capability manifest %s is added to its version", subject, store.ErrInvalidArgument, d.Digest)
		}
	}
	batch := s.newBatch()
	defer batch.discard()
	if err := s.pushBytes(ctx, batch, desc, raw); err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	if err := batch.commit(); err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	pm := plainManifest{Descriptor: desc}
	if m.Subject != nil {
		pm.Subject = m.Subject.Digest
	}
	_, err = s.changeRepo(ctx, func(tx *bolt.Tx) (repoRecord, bool, error) {
		if err := s.checkReferences(tx, repo, m, links); err != nil {
			return repoRecord{}, false, err
		}
		return repoRecord{Op: opPut, Repo: repo, Digest: desc.Digest, Manifest: &pm, Tags: tags}, true, nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		err = fmt.Errorf("%s: %w", subject, err)
	}
	return err
}

// checkReferences requires every blob and child manifest of m in repo.
func (s *Store) checkReferences(tx *bolt.Tx, repo string, m store.Manifest, links *capLinks) error {
	for _, b := range m.Blobs {
		_, plain := plainBlob(tx, repo, b.Digest)
		_, owned := links.blobs[b.Digest]
		if !plain && !owned {
			return fmt.Errorf("blob %s in %s: %w", b.Digest, repo, store.ErrNotFound)
		}
	}
	for _, c := range m.Manifests {
		_, owned := links.manifests[c.Digest]
		plain := tx.Bucket(bucketManifests).Get(repoKey(repo, c.Digest.String())) != nil
		capability := false
		if key := tx.Bucket(bucketDigests).Get([]byte(c.Digest)); key != nil {
			name, _ := splitKey(key)
			capability = name == repo
		}
		if !plain && !owned && !capability {
			return fmt.Errorf("manifest %s in %s: %w", c.Digest, repo, store.ErrNotFound)
		}
	}
	return nil
}

// DeleteManifest removes a plain manifest, its tags and its referrer
// entry; the bytes stay on disk.
func (s *Store) DeleteManifest(ctx context.Context, repo string, dgst digest.Digest) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	s.contentMu.RLock() // until the record is kept
	found, err := s.changeRepo(ctx, func(tx *bolt.Tx) (repoRecord, bool, error) {
		ok := tx.Bucket(bucketManifests).Get(repoKey(repo, dgst.String())) != nil
		return repoRecord{Op: opDelete, Repo: repo, Digest: dgst}, ok, nil
	})
	s.contentMu.RUnlock()
	if err != nil {
		return fmt.Errorf("%s@%s: %w", repo, dgst, err)
	}
	if found {
		return nil
	}
	if desc, err := s.manifestByDigest(ctx, repo, dgst); err == nil {
		return fmt.Errorf("%s@%s: %w: a capability manifest (artifactType %s) or one of its referrers", repo, desc.Digest, store.ErrInUse, desc.ArtifactType)
	}
	return fmt.Errorf("%s@%s: %w", repo, dgst, store.ErrNotFound)
}

// DeleteTag removes a plain tag.
func (s *Store) DeleteTag(ctx context.Context, repo, tag string) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	if _, ok := s.catalog.versionOfTag(repo, tag); ok {
		return fmt.Errorf("%s:%s: %w: the tag names a capability version", repo, tag, store.ErrInUse)
	}
	s.contentMu.RLock() // until the record is kept
	defer s.contentMu.RUnlock()
	found, err := s.changeRepo(ctx, func(tx *bolt.Tx) (repoRecord, bool, error) {
		ok := tx.Bucket(bucketTags).Get(repoKey(repo, tag)) != nil
		return repoRecord{Op: opUntag, Repo: repo, Tag: tag}, ok, nil
	})
	switch {
	case err != nil:
		return fmt.Errorf("%s:%s: %w", repo, tag, err)
	case !found:
		return fmt.Errorf("%s:%s: %w", repo, tag, store.ErrNotFound)
	}
	return nil
}

// pruneRepo forgets repo in bucketRepos once it holds no plain content.
func pruneRepo(tx *bolt.Tx, repo string) error {
	prefix := repoKey(repo, "")
	for _, b := range [][]byte{bucketBlobs, bucketManifests, bucketTags} {
		if k, _ := tx.Bucket(b).Cursor().Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
			return nil
		}
	}
	return tx.Bucket(bucketRepos).Delete([]byte(repo))
}

// Tags lists the tags of repo: a capability's versions and "latest", and
// plain tags.
func (s *Store) Tags(ctx context.Context, repo, last string, n int) ([]string, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	tags, isCapability := s.catalog.tags(repo)
	exists := isCapability
	err := s.db.View(func(tx *bolt.Tx) error {
		exists = exists || tx.Bucket(bucketRepos).Get([]byte(repo)) != nil
		prefix := repoKey(repo, "")
		c := tx.Bucket(bucketTags).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			tags = append(tags, string(k[len(prefix):]))
		}
		return nil
	})
	if err != nil {
		return nil, translate(err)
	}
	if !exists {
		return nil, fmt.Errorf("repository %s: %w", repo, store.ErrNotFound)
	}
	return page(tags, last, n), nil
}

// page sorts list, drops duplicates and what sorts at or before last, and
// keeps n (all when n <= 0).
func page(list []string, last string, n int) []string {
	slices.Sort(list)
	list = slices.Compact(list)
	if last != "" {
		i, found := slices.BinarySearch(list, last)
		if found {
			i++
		}
		list = list[i:]
	}
	if n > 0 && len(list) > n {
		list = list[:n]
	}
	return list
}

// Referrers lists the manifests in repo whose subject is dgst.
func (s *Store) Referrers(ctx context.Context, repo string, dgst digest.Digest) ([]ocispec.Descriptor, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	var out []ocispec.Descriptor
	err := s.db.View(func(tx *bolt.Tx) error {
		if key := tx.Bucket(bucketDigests).Get([]byte(dgst)); key != nil {
			if name, version := splitKey(key); name == repo {
				e, err := readStoredEntry(tx, name, version)
				if err != nil {
					return err
				}
				for _, r := range e.Version.Referrers {
					out = append(out, ocispec.Descriptor{
						MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest(r.Digest),
						Size: r.Size, ArtifactType: r.ArtifactType, Annotations: r.Annotations,
					})
				}
			}
		}
		prefix := repoKey(repo, dgst.String(), "")
		c := tx.Bucket(bucketSubjects).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			pm, err := readPlainManifest(tx, repo, digest.Digest(k[len(prefix):]))
			if err != nil {
				return err
			}
			out = append(out, pm.Descriptor)
		}
		return nil
	})
	if err != nil {
		return nil, translate(err)
	}
	slices.SortFunc(out, func(a, b ocispec.Descriptor) int { return strings.Compare(a.Digest.String(), b.Digest.String()) })
	return out, nil
}

// ListRepositories lists capability and plain repositories together.
func (s *Store) ListRepositories(ctx context.Context, last string, n int) ([]string, error) {
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	names := s.catalog.names()
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRepos).ForEach(func(k, _ []byte) error {
			names = append(names, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, translate(err)
	}
	return page(names, last, n), nil
}

// DeleteVersion removes name@version from the index and the catalog in one
// commit that also promises to remove its publish record and its referrer
// records from content, then removes them, so Reindex does not bring the
// version back, nor its referrers should its manifest be published again. It waits
// for publishes and referrer additions between their commit and their
// records, so that none writes a record after the removal. A record that cannot
// be removed returns an error with the version deleted (the next Open,
// Reindex or GC removes it).
func (s *Store) DeleteVersion(ctx context.Context, name, version string) error {
	subject := name + "@" + version
	if err := s.ready(ctx); err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	s.recordMu.Lock()
	defer s.recordMu.Unlock()
	key, rec, err := s.commitDelete(name, version)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			err = fmt.Errorf("%s: %w", subject, translate(err))
		}
		return err
	}
	if err := s.keep(ctx, key, rec); err != nil {
		return fmt.Errorf("%s: deleted, but its records are still in content (the next Open removes them): %w", subject, err)
	}
	return nil
}

// commitDelete removes name@version from the index, promising the removal
// of its publish and referrer records, and from the catalog. It returns the promise.
func (s *Store) commitDelete(name, version string) ([]byte, outboxEntry, error) {
	var (
		key []byte
		rec outboxEntry
	)
	err := s.commits.do(func(tx *bolt.Tx) error {
		e, err := readStoredEntry(tx, name, version)
		if err != nil {
			return err
		}
		if err := deleteVersion(tx, e); err != nil {
			return err
		}
		rec = outboxEntry{}
		for _, d := range append([]string{e.Record}, e.ReferrerRecords...) {
			if d != "" {
				rec.Remove = append(rec.Remove, digest.Digest(d))
			}
		}
		key, err = promise(tx, rec)
		return err
	}, func() {
		s.catalog.remove(name, version)
		s.links.invalidate(name)
	})
	return key, rec, err
}

// deleteVersion removes the indexed version e from every bucket, and its
// capability once it has no version left.
func deleteVersion(tx *bolt.Tx, e entry) error {
	name, version := e.Version.Name, e.Version.Version
	key := versionKey(name, version)
	for _, del := range []struct {
		bucket, key []byte
	}{{bucketVersions, key}, {bucketState, key}, {bucketDigests, []byte(e.Version.Digest)}} {
		if err := tx.Bucket(del.bucket).Delete(del.key); err != nil {
			return err
		}
	}
	prefix := versionKey(name, "")
	if k, _ := tx.Bucket(bucketVersions).Cursor().Seek(prefix); k == nil || !bytes.HasPrefix(k, prefix) {
		return tx.Bucket(bucketCapabilities).Delete([]byte(name))
	}
	return nil
}
