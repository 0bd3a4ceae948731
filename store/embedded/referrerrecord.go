package embedded

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/capcenter/capcenter/store"
)

// A referrer record says that a commit made a manifest a referrer of a
// version: PushBlob stores any bytes, so a manifest in content whose
// subject is a published capability manifest proves nothing (a client
// may have pushed a fake signature as blobs, or an AddReferrer may have
// failed after storing it). Every commit that adds referrers to a version
// (Publish with its signatures, AddReferrer) promises one record per
// referrer in the same transaction, sealed like the others; the version's
// entry names them (entry.ReferrerRecords), so GC keeps them and
// DeleteVersion removes them. Reindex attaches only the referrers that an
// authentic record names and whose manifest content holds.
const referrerRecordType = "application/vnd.capcenter.referrer.v1+json"

// referrersKey is in bucketMeta once the referrers of the index are
// recorded under the key named by keyIDKey: an index recorded under a key
// before referrer records existed lacks it, and adopt records its
// referrers.
var referrersKey = []byte("records.referrers")

// referrerRecord is the config of a referrer record: the version (for
// people reading content; Reindex matches the subject's digest) and the
// referrer manifest.
type referrerRecord struct {
	Name     string             `json:"name"`
	Version  string             `json:"version"`
	Referrer ocispec.Descriptor `json:"referrer"`
}

// referrerRecords builds, sealed with k, a record of each of refs as a
// referrer of name@version, whose manifest is subject, created at
// created. It returns the records' manifest digests, sorted, and their
// blobs (each config before its manifest); nothing for no refs. It fails
// only when a record does not encode.
func (k recordKey) referrerRecords(subject ocispec.Descriptor, name, version string, created time.Time, refs []store.Referrer) ([]string, []outboxBlob, error) {
	var (
		digests []string
		blobs   []outboxBlob
	)
	for _, r := range refs {
		body := referrerRecord{Name: name, Version: version, Referrer: ocispec.Descriptor{
			MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest(r.Digest),
			Size: r.Size, ArtifactType: r.ArtifactType,
		}}
		desc, b, err := k.newRecord(referrerRecordType, subject, created, body)
		if err != nil {
			return nil, nil, fmt.Errorf("referrer %s: %w", r.Digest, err)
		}
		digests, blobs = append(digests, desc.Digest.String()), append(blobs, b...)
	}
	slices.Sort(digests)
	return digests, blobs, nil
}

// recordReferrers promises, inside tx, a referrer record of every referrer
// of e, which e then names, and stores e. The caller is adopting the
// index: e's referrers are trusted as they stand.
func (s *Store) recordReferrers(tx *bolt.Tx, e *entry) error {
	v := e.Version
	recs, blobs, err := s.key.referrerRecords(s.capabilityManifest(*e), v.Name, v.Version, v.Created, v.Referrers)
	if err != nil {
		return fmt.Errorf("%s@%s: %w", v.Name, v.Version, err)
	}
	if len(blobs) > 0 {
		if _, err := promise(tx, outboxEntry{Write: blobs}); err != nil {
			return err
		}
	}
	e.ReferrerRecords = recs
	return putEntry(tx, *e)
}

// recordAllReferrers is recordReferrers for every indexed version: what
// adopt does for an index recorded under the key before referrer records
// existed.
func (s *Store) recordAllReferrers(tx *bolt.Tx) error {
	entries, err := readEntries(tx)
	if err != nil {
		return err
	}
	for i := range entries {
		if err := s.recordReferrers(tx, &entries[i]); err != nil {
			return err
		}
	}
	return nil
}

// readEntries reads every index entry inside tx, as stored.
func readEntries(tx *bolt.Tx) ([]entry, error) {
	var entries []entry
	err := tx.Bucket(bucketVersions).ForEach(func(k, raw []byte) error {
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("%q: decode index entry: %w", k, err)
		}
		entries = append(entries, e)
		return nil
	})
	return entries, err
}

// committedReferrers returns the referrers Reindex gives the capability
// manifest d: those found in content that an authentic referrer record
// of d names (every one, recorded or not, when the store trusts
// unauthenticated records), sorted, and the digests of the records that
// name them, sorted.
func (s *Store) committedReferrers(f found, d digest.Digest) ([]store.Referrer, []string) {
	var (
		refs []store.Referrer
		recs []string
	)
	for _, r := range f.referrers[d] {
		rec, ok := f.recorded[d][digest.Digest(r.Digest)]
		if !ok && !s.trustAll {
			continue
		}
		if ok {
			recs = append(recs, rec.String())
		}
		refs = append(refs, r)
	}
	slices.Sort(recs)
	return sortReferrers(refs), recs
}

// addReferrerRecord notes that the referrer record rec names r's referrer
// as a referrer of subject. When two records name one referrer, the lower
// digest is kept, so that Reindex is deterministic.
func (f *found) addReferrerRecord(subject, rec digest.Digest, r referrerRecord) {
	byRef := f.recorded[subject]
	if byRef == nil {
		byRef = map[digest.Digest]digest.Digest{}
		f.recorded[subject] = byRef
	}
	if old, ok := byRef[r.Referrer.Digest]; !ok || rec < old {
		byRef[r.Referrer.Digest] = rec
	}
}
