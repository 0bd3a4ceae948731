package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
	"oras.land/oras-go/v2/content"
)

// capLinks is what a capability's repository holds besides its bundle
// manifests (which the digests bucket finds): the blobs of every version
// and of every referrer, and the referrer manifests.
type capLinks struct {
	blobs     map[digest.Digest]int64
	manifests map[digest.Digest]ocispec.Descriptor
}

// linkCache keeps the capLinks of the repositories the distribution API
// has read since they last changed. The index does not record blobs per
// version, so a set is built from content (each version's manifest and its
// referrers' manifests) the first time it is needed, and dropped when a
// publish, referrer or delete changes the capability. Every repository
// read stays cached until then: memory grows with the number of blobs of
// the capabilities pulled through /v2/.
type linkCache struct {
	mu sync.Mutex
	// gen counts changes per repository and epoch changes of all (a
	// Reindex), so a set built while one happened is not kept.
	gen   map[string]uint64
	epoch uint64
	sets  map[string]*capLinks
}

func newLinkCache() *linkCache {
	return &linkCache{gen: map[string]uint64{}, sets: map[string]*capLinks{}}
}

// invalidate drops repo's set.
func (c *linkCache) invalidate(repo string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen[repo]++
	delete(c.sets, repo)
}

// reset drops every set.
func (c *linkCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.sets = map[string]*capLinks{}
}

// get returns repo's set, building it when it is not cached. A repository
// that is no capability has an empty set. It fails when the index or
// content cannot be read.
func (c *linkCache) get(ctx context.Context, s *Store, repo string) (*capLinks, error) {
	c.mu.Lock()
	set, ok := c.sets[repo]
	gen, epoch := c.gen[repo], c.epoch
	c.mu.Unlock()
	if ok {
		return set, nil
	}
	set, err := s.buildLinks(ctx, repo)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen[repo] == gen && c.epoch == epoch {
		c.sets[repo] = set
	}
	c.mu.Unlock()
	return set, nil
}

// buildLinks reads every version of the capability repo and its
// referrers from content.
func (s *Store) buildLinks(ctx context.Context, repo string) (*capLinks, error) {
	set := &capLinks{blobs: map[digest.Digest]int64{}, manifests: map[digest.Digest]ocispec.Descriptor{}}
	var entries []entry
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := versionKey(repo, "")
		c := tx.Bucket(bucketVersions).Cursor()
		for k, raw := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, raw = c.Next() {
			var e entry
			if err := json.Unmarshal(raw, &e); err != nil {
				return fmt.Errorf("%q: decode index entry: %w", k, err)
			}
			entries = append(entries, e)
		}
		return nil
	})
	if err != nil {
		return nil, translate(err)
	}
	for _, e := range entries {
		if err := s.addLinks(ctx, set, s.capabilityManifest(e)); err != nil {
			return nil, err
		}
		for _, r := range e.Version.Referrers {
			desc := ocispec.Descriptor{
				MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest(r.Digest),
				Size: r.Size, ArtifactType: r.ArtifactType, Annotations: r.Annotations,
			}
			set.manifests[desc.Digest] = desc
			if err := s.addLinks(ctx, set, desc); err != nil {
				return nil, err
			}
		}
	}
	return set, nil
}

// addLinks adds the config and layers of the manifest desc to set.
func (s *Store) addLinks(ctx context.Context, set *capLinks, desc ocispec.Descriptor) error {
	raw, err := content.FetchAll(ctx, s.content, desc)
	if err != nil {
		return fmt.Errorf("%s: %w", desc.Digest, translate(err))
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s: decode manifest: %w", desc.Digest, err)
	}
	for _, b := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		set.blobs[b.Digest] = b.Size
	}
	return nil
}
