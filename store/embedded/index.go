package embedded

import (
	"encoding/json"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/capcenter/capcenter/store"
)

// The index buckets. Keys of versions and state are versionKey(name,
// version); digests maps a manifest digest to the same key.
var (
	bucketCapabilities = []byte("capabilities")
	bucketVersions     = []byte("versions")
	bucketDigests      = []byte("digests")
	bucketState        = []byte("state")
	allBuckets         = [][]byte{bucketCapabilities, bucketVersions, bucketDigests, bucketState}
)

// entry is the value of the versions bucket: the immutable part of a
// version with its referrers (which only grow), the digest of the publish
// record that made it visible, the manifest size (the subject of state
// records), and the digests of the referrer records of its referrers,
// sorted (see referrerrecord.go).
type entry struct {
	Version         store.Version
	Record          string
	ManifestSize    int64
	ReferrerRecords []string `json:",omitempty"`
}

// state is the value of the state bucket: the mutable part of a version.
// Seq orders state records of one version; the highest wins on Reindex.
type state struct {
	Yanked             bool   `json:"yanked,omitempty"`
	YankReason         string `json:"yankReason,omitempty"`
	Deprecated         bool   `json:"deprecated,omitempty"`
	DeprecationMessage string `json:"deprecationMessage,omitempty"`
	Seq                int64  `json:"seq"`
}

// apply copies st onto v.
func (st state) apply(v *store.Version) {
	v.Yanked, v.YankReason = st.Yanked, st.YankReason
	v.Deprecated, v.DeprecationMessage = st.Deprecated, st.DeprecationMessage
}

// versionKey is name NUL version: NUL sorts before every name character,
// so a prefix scan over name NUL lists one capability's versions.
func versionKey(name, version string) []byte {
	return []byte(name + "\x00" + version)
}

// splitKey reverses versionKey.
func splitKey(k []byte) (name, version string) {
	name, version, _ = strings.Cut(string(k), "\x00")
	return name, version
}

// readVersion reads one version with its state inside tx, copying it out.
// It wraps store.ErrNotFound when the version is not indexed.
func readVersion(tx *bolt.Tx, name, version string) (store.Version, error) {
	e, err := readEntry(tx, name, version)
	return e.Version, err
}

// readEntry reads one index entry, its Version with the state applied.
func readEntry(tx *bolt.Tx, name, version string) (entry, error) {
	key := versionKey(name, version)
	e, err := readStoredEntry(tx, name, version)
	if err != nil {
		return entry{}, err
	}
	st, err := readState(tx, key)
	if err != nil {
		return entry{}, fmt.Errorf("%s@%s: %w", name, version, err)
	}
	st.apply(&e.Version)
	return e, nil
}

// readStoredEntry reads one index entry as stored, without its state. It
// wraps store.ErrNotFound when the version is not indexed.
func readStoredEntry(tx *bolt.Tx, name, version string) (entry, error) {
	raw := tx.Bucket(bucketVersions).Get(versionKey(name, version))
	if raw == nil {
		return entry{}, fmt.Errorf("%s@%s: %w", name, version, store.ErrNotFound)
	}
	var e entry
	if err := json.Unmarshal(raw, &e); err != nil {
		return entry{}, fmt.Errorf("%s@%s: decode index entry: %w", name, version, err)
	}
	return e, nil
}

// readState reads a version's state; a version never changed has the zero
// state.
func readState(tx *bolt.Tx, key []byte) (state, error) {
	var st state
	raw := tx.Bucket(bucketState).Get(key)
	if raw == nil {
		return st, nil
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, fmt.Errorf("decode state: %w", err)
	}
	return st, nil
}

// writeVersion indexes a new version in every bucket.
func writeVersion(tx *bolt.Tx, e entry) error {
	v := e.Version
	if err := tx.Bucket(bucketCapabilities).Put([]byte(v.Name), []byte{}); err != nil {
		return err
	}
	if err := putEntry(tx, e); err != nil {
		return err
	}
	return tx.Bucket(bucketDigests).Put([]byte(v.Digest), versionKey(v.Name, v.Version))
}

// putEntry writes e to the versions bucket only: writeVersion for a new
// version, or alone to replace the entry of an indexed version whose name,
// version and digest stay the same.
func putEntry(tx *bolt.Tx, e entry) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketVersions).Put(versionKey(e.Version.Name, e.Version.Version), raw)
}

// writeState stores a version's state.
func writeState(tx *bolt.Tx, key []byte, st state) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketState).Put(key, raw)
}
