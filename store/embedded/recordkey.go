package embedded

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Records are authenticated: PushBlob stores any bytes, so content may
// hold manifests that parse as records and that the store never wrote. A
// record the store writes carries, in its recordMACAnnotation, the
// HMAC-SHA256 under the store's key of everything Reindex and GC act on
// (macInput); they ignore record manifests whose MAC is missing or wrong.
// The key is keySize random bytes in dir/keyFile, beside content/ and
// index.db, never inside content/ (whose blobs /v2/ may serve).
const (
	keyFile             = "record.key"
	keySize             = 32
	recordMACAnnotation = "vnd.capcenter.record.mac"
	// macDomain starts every MAC input, so that no other use of the key
	// can produce a record's MAC.
	macDomain = "capcenter record v1"
)

// keyIDKey in bucketMeta holds the id of the key that sealed the records
// of what the index holds; another id (or none) means the index is
// recorded again on Open (see adopt).
var keyIDKey = []byte("records.key")

// recordKey is the store's record key and its public id.
type recordKey struct {
	secret []byte
	id     []byte
}

// newRecordKey derives the id of secret.
func newRecordKey(secret []byte) recordKey {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("capcenter record key id"))
	return recordKey{secret: secret, id: h.Sum(nil)[:16]}
}

// loadKey reads the record key of the store in dir, creating it when the
// file is missing. Creation writes a temporary file (mode 0600), syncs
// it, renames it into place and syncs dir, so a crash leaves either no
// key or the whole key. It fails when the file cannot be read or written,
// or does not hold keySize bytes. The caller holds the index lock, so
// that no other process creates a key at the same time.
func loadKey(dir string) (recordKey, error) {
	path := filepath.Join(dir, keyFile)
	secret, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if secret, err = createKey(dir); err != nil {
			return recordKey{}, fmt.Errorf("%s: create: %w", path, err)
		}
	case err != nil:
		return recordKey{}, err
	case len(secret) != keySize:
		return recordKey{}, fmt.Errorf("%s: %d bytes, want %d: not a record key", path, len(secret), keySize)
	}
	return newRecordKey(secret), nil
}

// createKey writes a new random key to dir/keyFile atomically and durably.
func createKey(dir string) ([]byte, error) {
	secret := make([]byte, keySize)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	tmp := filepath.Join(dir, keyFile+".tmp")
	// A crash may have left one, with whatever mode: start afresh.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	_, err = f.Write(secret)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, keyFile))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	return secret, syncDir(dir)
}

// seal sets m's MAC annotation. m carries its other annotations already.
func (k recordKey) seal(m *ocispec.Manifest) {
	m.Annotations[recordMACAnnotation] = hex.EncodeToString(k.mac(*m))
}

// authentic reports whether m carries the MAC of what it says under k.
func (k recordKey) authentic(m ocispec.Manifest) bool {
	got, err := hex.DecodeString(m.Annotations[recordMACAnnotation])
	return err == nil && hmac.Equal(got, k.mac(m))
}

// mac is the HMAC-SHA256 of m's macInput under k.
func (k recordKey) mac(m ocispec.Manifest) []byte {
	h := hmac.New(sha256.New, k.secret)
	macInput(h, m)
	return h.Sum(nil)
}

// macInput writes to h, each field prefixed by its length so that no two
// records share an input, everything of record manifest m that Reindex
// and GC read: media type, artifact type, subject digest, the created
// annotation, the config's media type, digest and size (which fix the
// bytes of the publish or state record they read from it: content is
// fetched verified), the repository record's change, and the number of
// layers (none).
func macInput(h hash.Hash, m ocispec.Manifest) {
	var subject string
	if m.Subject != nil {
		subject = m.Subject.Digest.String()
	}
	for _, field := range []string{
		macDomain, m.MediaType, m.ArtifactType, subject,
		m.Annotations[ocispec.AnnotationCreated],
		m.Config.MediaType, m.Config.Digest.String(), strconv.FormatInt(m.Config.Size, 10),
		m.Annotations[repoRecordAnnotation], strconv.Itoa(len(m.Layers)),
	} {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(field))))
		h.Write([]byte(field))
	}
}

// isRecord reports whether m has the artifact type of one of the store's
// records.
func isRecord(m ocispec.Manifest) bool {
	switch m.ArtifactType {
	case publishRecordType, stateRecordType, referrerRecordType, repoRecordType:
		return true
	}
	return false
}

// trusted reports whether Reindex and GC act on the record manifest m:
// when its MAC is right, or when the store trusts unauthenticated
// records (Options.TrustUnauthenticatedRecords).
func (s *Store) trusted(m ocispec.Manifest) bool {
	return s.trustAll || s.key.authentic(m)
}
