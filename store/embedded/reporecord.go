package embedded

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
	"oras.land/oras-go/v2/content"
)

// A repository record is one change to plain content, as the oci.*
// buckets saw it: a blob linked or unlinked, a manifest put (with its
// tags) or deleted, a tag deleted. Every change commits its record's
// promise in the same transaction, with a sequence number from the index
// that only grows (the larger of the clock in nanoseconds and the last
// number plus one), so the records replayed in sequence order rebuild
// the buckets exactly: live writes and Reindex share applyRepo.
//
// A record is an OCI image manifest with the empty config, no layers and
// no subject; the change is the JSON of its repoRecordAnnotation: one
// more small file per change, synced at the next checkpoint (outbox.go).
const (
	repoRecordType       = "application/vnd.capcenter.repository.v1+json"
	repoRecordAnnotation = "vnd.capcenter.repository.record"
)

// The operations of repository records.
const (
	opLink   = "link"   // PushBlob, MountBlob
	opUnlink = "unlink" // DeleteBlob
	opPut    = "put"    // PutManifest
	opDelete = "delete" // DeleteManifest
	opUntag  = "untag"  // DeleteTag
)

// bucketMeta's sequence is the last repository record's; adoptedKey is in
// it once the plain content that predates records is recorded.
var (
	bucketMeta = []byte("meta")
	adoptedKey = []byte("repository.adopted")
)

// repoRecord is one change to plain content.
type repoRecord struct {
	Seq  uint64 `json:"seq"`
	Op   string `json:"op"`
	Repo string `json:"repo"`
	// Digest is the blob of link and unlink, the manifest of put and
	// delete; Size the blob's size for link.
	Digest digest.Digest `json:"digest,omitempty"`
	Size   int64         `json:"size,omitempty"`
	// Manifest is what put stores; Tags what put points at it.
	Manifest *plainManifest `json:"manifest,omitempty"`
	Tags     []string       `json:"tags,omitempty"`
	// Tag is what untag removes.
	Tag string `json:"tag,omitempty"`
}

// applyRepo makes the change r in the oci.* buckets inside tx. The
// caller has checked that the change is allowed; replaying r on the
// buckets it was made on gives the same buckets.
func applyRepo(tx *bolt.Tx, r repoRecord) error {
	switch r.Op {
	case opLink:
		if err := tx.Bucket(bucketRepos).Put([]byte(r.Repo), []byte{}); err != nil {
			return err
		}
		return tx.Bucket(bucketBlobs).Put(repoKey(r.Repo, r.Digest.String()), fmt.Appendf(nil, "%d", r.Size))
	case opUnlink:
		if err := tx.Bucket(bucketBlobs).Delete(repoKey(r.Repo, r.Digest.String())); err != nil {
			return err
		}
		return pruneRepo(tx, r.Repo)
	case opPut:
		return putPlain(tx, r)
	case opDelete:
		return deletePlain(tx, r.Repo, r.Digest)
	case opUntag:
		return tx.Bucket(bucketTags).Delete(repoKey(r.Repo, r.Tag))
	}
	return fmt.Errorf("repository record %d: unknown op %q", r.Seq, r.Op)
}

// putPlain stores the manifest of a put record and points its tags at it.
func putPlain(tx *bolt.Tx, r repoRecord) error {
	if r.Manifest == nil {
		return fmt.Errorf("repository record %d: put without a manifest", r.Seq)
	}
	pm := *r.Manifest
	value, err := json.Marshal(pm)
	if err != nil {
		return err
	}
	dgst := pm.Descriptor.Digest.String()
	if err := tx.Bucket(bucketRepos).Put([]byte(r.Repo), []byte{}); err != nil {
		return err
	}
	if err := tx.Bucket(bucketManifests).Put(repoKey(r.Repo, dgst), value); err != nil {
		return err
	}
	if pm.Subject != "" {
		if err := tx.Bucket(bucketSubjects).Put(repoKey(r.Repo, pm.Subject.String(), dgst), []byte{}); err != nil {
			return err
		}
	}
	for _, tag := range r.Tags {
		if err := tx.Bucket(bucketTags).Put(repoKey(r.Repo, tag), []byte(dgst)); err != nil {
			return err
		}
	}
	return nil
}

// deletePlain removes a plain manifest, its referrer entry and every tag
// pointing at it, and forgets repo once it is empty. A manifest repo does
// not hold changes nothing.
func deletePlain(tx *bolt.Tx, repo string, dgst digest.Digest) error {
	raw := tx.Bucket(bucketManifests).Get(repoKey(repo, dgst.String()))
	if raw == nil {
		return nil
	}
	var pm plainManifest
	if err := json.Unmarshal(raw, &pm); err != nil {
		return fmt.Errorf("%s@%s: decode manifest entry: %w", repo, dgst, err)
	}
	if err := tx.Bucket(bucketManifests).Delete(repoKey(repo, dgst.String())); err != nil {
		return err
	}
	if pm.Subject != "" {
		if err := tx.Bucket(bucketSubjects).Delete(repoKey(repo, pm.Subject.String(), dgst.String())); err != nil {
			return err
		}
	}
	tags := tx.Bucket(bucketTags)
	var doomed [][]byte
	prefix := repoKey(repo, "")
	c := tags.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if string(v) == dgst.String() {
			doomed = append(doomed, slices.Clone(k))
		}
	}
	for _, k := range doomed {
		if err := tags.Delete(k); err != nil {
			return err
		}
	}
	return pruneRepo(tx, repo)
}

// recordRepo numbers r, applies it to the buckets and promises its record,
// sealed with k, inside tx, returning the promise's key and entry for
// keep.
func (k recordKey) recordRepo(tx *bolt.Tx, r repoRecord) ([]byte, outboxEntry, error) {
	// The wall clock keeps numbers growing past those of records an index
	// that was lost had written, should changes come before a Reindex.
	meta := tx.Bucket(bucketMeta)
	r.Seq = max(uint64(time.Now().UnixNano()), meta.Sequence()+1)
	if err := meta.SetSequence(r.Seq); err != nil {
		return nil, outboxEntry{}, err
	}
	if err := applyRepo(tx, r); err != nil {
		return nil, outboxEntry{}, err
	}
	e, err := k.repoRecordBlobs(r)
	if err != nil {
		return nil, outboxEntry{}, err
	}
	key, err := promise(tx, e)
	return key, e, err
}

// repoRecordBlobs builds the record of r, sealed with k: the empty
// config and the manifest.
func (k recordKey) repoRecordBlobs(r repoRecord) (outboxEntry, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return outboxEntry{}, fmt.Errorf("encode repository record: %w", err)
	}
	empty := ocispec.DescriptorEmptyJSON
	empty.Data = nil
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: repoRecordType,
		Config:       empty,
		Layers:       []ocispec.Descriptor{},
		Annotations:  map[string]string{repoRecordAnnotation: string(body)},
	}
	k.seal(&m)
	raw, err := json.Marshal(m)
	if err != nil {
		return outboxEntry{}, fmt.Errorf("encode repository record manifest: %w", err)
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	desc.ArtifactType = repoRecordType
	return outboxEntry{Write: []outboxBlob{
		{Descriptor: empty, Data: ocispec.DescriptorEmptyJSON.Data},
		{Descriptor: desc, Data: raw},
	}}, nil
}

// parseRepoRecord reads the change out of a record manifest m.
func parseRepoRecord(m ocispec.Manifest) (repoRecord, error) {
	var r repoRecord
	err := json.Unmarshal([]byte(m.Annotations[repoRecordAnnotation]), &r)
	return r, err
}

// replayRepo empties the oci.* buckets and applies recs in sequence order
// inside tx, then moves the record sequence past the highest seen.
func replayRepo(tx *bolt.Tx, recs []repoRecord) error {
	for _, b := range ociBuckets {
		if err := tx.DeleteBucket(b); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(b); err != nil {
			return err
		}
	}
	slices.SortFunc(recs, func(a, b repoRecord) int { return cmp.Compare(a.Seq, b.Seq) })
	meta := tx.Bucket(bucketMeta)
	last := meta.Sequence()
	for _, r := range recs {
		if err := applyRepo(tx, r); err != nil {
			return err
		}
		last = max(last, r.Seq)
	}
	return meta.SetSequence(last)
}

// adopt records the index as it stands, sealed with the store's key,
// unless the content already holds records of it under this key: one
// repository record per blob link and per manifest with its tags (as
// currentRepo describes them), a new publish record per version (which
// the version's entry then names), a state record per version whose
// state was ever changed, and a referrer record per referrer (which the
// entry names too). That is done once for an index older than
// repository records or than record keys (whose records Reindex and GC
// no longer trust), and again when the key file was replaced (lost, and
// created anew by Open): the live index is what is trusted. An index
// recorded under this key before referrer records existed (meta lacks
// referrersKey) gets only the referrer records. An empty index is
// adopted as it is. Open runs it before it flushes the outbox, which
// writes the records; a version indexed by a promise still in the
// outbox is recorded twice, harmlessly.
func (s *Store) adopt() error {
	return s.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		keyed := meta.Get(adoptedKey) != nil && bytes.Equal(meta.Get(keyIDKey), s.key.id)
		var err error
		switch {
		case keyed && meta.Get(referrersKey) != nil:
			return nil
		case keyed:
			err = s.recordAllReferrers(tx)
		default:
			err = s.recordIndex(tx)
		}
		if err != nil {
			return err
		}
		for _, k := range [][]byte{adoptedKey, referrersKey} {
			if err := meta.Put(k, []byte{}); err != nil {
				return err
			}
		}
		return meta.Put(keyIDKey, s.key.id)
	})
}

// recordIndex promises, inside tx, records of everything the index holds:
// see adopt.
func (s *Store) recordIndex(tx *bolt.Tx) error {
	recs, err := currentRepo(tx)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if _, _, err := s.key.recordRepo(tx, r); err != nil {
			return err
		}
	}
	return s.recordVersions(tx)
}

// recordVersions promises, inside tx, a publish record and referrer
// records of every indexed version, which its entry then names, and a
// state record of its current state when it has one.
func (s *Store) recordVersions(tx *bolt.Tx) error {
	entries, err := readEntries(tx)
	if err != nil {
		return err
	}
	for _, e := range entries {
		v := e.Version
		manifest := s.capabilityManifest(e)
		rec, blobs, err := s.key.newRecord(publishRecordType, manifest, v.Created, publishRecord{Name: v.Name, Version: v.Version, Created: v.Created})
		if err != nil {
			return fmt.Errorf("%s@%s: publish record: %w", v.Name, v.Version, err)
		}
		if _, err := promise(tx, outboxEntry{Write: blobs}); err != nil {
			return err
		}
		e.Record = rec.Digest.String()
		if err := s.recordReferrers(tx, &e); err != nil {
			return err
		}
		key := versionKey(v.Name, v.Version)
		if tx.Bucket(bucketState).Get(key) == nil {
			continue
		}
		st, err := readState(tx, key)
		if err != nil {
			return fmt.Errorf("%s@%s: %w", v.Name, v.Version, err)
		}
		_, blobs, err = s.key.newRecord(stateRecordType, manifest, time.Unix(0, st.Seq).UTC(), stateRecord{Name: v.Name, Version: v.Version, state: st})
		if err != nil {
			return fmt.Errorf("%s@%s: state record: %w", v.Name, v.Version, err)
		}
		if _, err := promise(tx, outboxEntry{Write: blobs}); err != nil {
			return err
		}
	}
	return nil
}

// currentRepo describes the oci.* buckets as records: every blob link,
// then every manifest with the tags that point at it.
func currentRepo(tx *bolt.Tx) ([]repoRecord, error) {
	var recs []repoRecord
	err := tx.Bucket(bucketBlobs).ForEach(func(k, v []byte) error {
		repo, d, _ := bytes.Cut(k, []byte{0})
		var size int64
		if _, err := fmt.Sscan(string(v), &size); err != nil {
			return fmt.Errorf("%q: decode blob link: %w", k, err)
		}
		recs = append(recs, repoRecord{Op: opLink, Repo: string(repo), Digest: digest.Digest(d), Size: size})
		return nil
	})
	if err != nil {
		return nil, err
	}
	tags := map[string][]string{}
	err = tx.Bucket(bucketTags).ForEach(func(k, v []byte) error {
		repo, tag, _ := bytes.Cut(k, []byte{0})
		key := string(repoKey(string(repo), string(v)))
		tags[key] = append(tags[key], string(tag))
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = tx.Bucket(bucketManifests).ForEach(func(k, v []byte) error {
		var pm plainManifest
		if err := json.Unmarshal(v, &pm); err != nil {
			return fmt.Errorf("%q: decode manifest entry: %w", k, err)
		}
		repo, _, _ := bytes.Cut(k, []byte{0})
		recs = append(recs, repoRecord{Op: opPut, Repo: string(repo), Digest: pm.Descriptor.Digest, Manifest: &pm, Tags: tags[string(k)]})
		return nil
	})
	return recs, err
}
