package embedded

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Masterminds/semver/v3"
	bolt "go.etcd.io/bbolt"

	"github.com/capcenter/capcenter/store"
)

// catalog is the in-memory search side of the index: one summary per
// capability, kept sorted by name and by update time, so a query scans
// memory instead of the bbolt file. It changes only after an index commit,
// under the Store's writeMu, and readers hold mu.RLock while they scan.
type catalog struct {
	mu        sync.RWMutex
	caps      map[string]*capEntry
	byName    []*capEntry // name ascending
	byUpdated []*capEntry // (Updated, name) ascending
	// gen counts changes; search is the search index of generation gen,
	// or an older one that index rebuilds under buildMu.
	gen     uint64
	search  atomic.Pointer[searchIndex]
	buildMu sync.Mutex
}

// capEntry is one capability: its summary, its lowercase search text and
// its versions, highest first.
type capEntry struct {
	summary  store.Capability
	text     string
	versions []verInfo
	pos      int // position in the name order, set by index under buildMu
}

// verInfo is what the catalog keeps of one version.
type verInfo struct {
	version     string
	semver      *semver.Version
	kind        string
	description string
	keywords    []string
	created     time.Time
	yanked      bool
}

// newVerInfo keeps the catalog fields of v. It fails when v.Version is not
// semver, which Publish has already refused.
func newVerInfo(v store.Version) (verInfo, error) {
	sv, err := semver.NewVersion(v.Version)
	if err != nil {
		return verInfo{}, fmt.Errorf("%s@%s: %w", v.Name, v.Version, err)
	}
	return verInfo{
		version: v.Version, semver: sv, kind: v.Kind, description: v.Description,
		keywords: v.Keywords, created: v.Created, yanked: v.Yanked,
	}, nil
}

// compareVersions orders versions highest semver first; equal semvers
// (which differ only in build metadata) fall back to the string, highest
// first, so the order is total.
func compareVersions(a, b verInfo) int {
	if c := b.semver.Compare(a.semver); c != 0 {
		return c
	}
	return strings.Compare(b.version, a.version)
}

// compareUpdated orders capabilities by update time, then name.
func compareUpdated(a, b *capEntry) int {
	if c := a.summary.Updated.Compare(b.summary.Updated); c != 0 {
		return c
	}
	return strings.Compare(a.summary.Name, b.summary.Name)
}

func compareName(a, b *capEntry) int {
	return strings.Compare(a.summary.Name, b.summary.Name)
}

// newCatalog returns an empty catalog.
func newCatalog() *catalog {
	return &catalog{caps: map[string]*capEntry{}}
}

// loadCatalog builds a catalog from every indexed version in tx.
func loadCatalog(tx *bolt.Tx) (*catalog, error) {
	c := newCatalog()
	err := tx.Bucket(bucketVersions).ForEach(func(k, raw []byte) error {
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("%q: decode index entry: %w", k, err)
		}
		st, err := readState(tx, k)
		if err != nil {
			return fmt.Errorf("%q: %w", k, err)
		}
		st.apply(&e.Version)
		vi, err := newVerInfo(e.Version)
		if err != nil {
			return err
		}
		c.add(e.Version.Name, vi)
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.sortAll()
	return c, nil
}

// add appends a version without keeping the capability lists sorted; the
// bulk loaders call sortAll once at the end.
func (c *catalog) add(name string, vi verInfo) {
	ce, ok := c.caps[name]
	if !ok {
		ce = &capEntry{summary: store.Capability{Name: name}}
		c.caps[name] = ce
		c.byName = append(c.byName, ce)
		c.byUpdated = append(c.byUpdated, ce)
	}
	ce.versions = append(ce.versions, vi)
}

// sortAll sorts every list and computes every summary.
func (c *catalog) sortAll() {
	for _, ce := range c.caps {
		slices.SortFunc(ce.versions, compareVersions)
		ce.summarize()
	}
	slices.SortFunc(c.byName, compareName)
	slices.SortFunc(c.byUpdated, compareUpdated)
}

// summarize recomputes the summary and search text from the versions.
func (ce *capEntry) summarize() {
	latest := ce.versions[0]
	for _, vi := range ce.versions {
		if !vi.yanked {
			latest = vi
			break
		}
	}
	var updated time.Time
	for _, vi := range ce.versions {
		if vi.created.After(updated) {
			updated = vi.created
		}
	}
	ce.summary = store.Capability{
		Name: ce.summary.Name, Kind: latest.kind, Description: latest.description,
		Keywords: latest.keywords, Latest: latest.version,
		Versions: len(ce.versions), Updated: updated,
	}
	ce.text = strings.ToLower(ce.summary.Name + "\n" + latest.description + "\n" + strings.Join(latest.keywords, "\n"))
}

// publish adds a newly committed version, keeping every list sorted.
func (c *catalog) publish(name string, vi verInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	ce, ok := c.caps[name]
	if !ok {
		ce = &capEntry{summary: store.Capability{Name: name}, versions: []verInfo{vi}}
		ce.summarize()
		c.caps[name] = ce
		c.byName = insertSorted(c.byName, ce, compareName)
		c.byUpdated = insertSorted(c.byUpdated, ce, compareUpdated)
		return
	}
	c.byUpdated = removeSorted(c.byUpdated, ce, compareUpdated)
	i, _ := slices.BinarySearchFunc(ce.versions, vi, compareVersions)
	ce.versions = slices.Insert(ce.versions, i, vi)
	ce.summarize()
	c.byUpdated = insertSorted(c.byUpdated, ce, compareUpdated)
}

// setYanked records a committed yank or unyank; Latest may move.
func (c *catalog) setYanked(name, version string, yanked bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	ce, ok := c.caps[name]
	if !ok {
		return
	}
	for i := range ce.versions {
		if ce.versions[i].version == version {
			ce.versions[i].yanked = yanked
		}
	}
	ce.summarize()
}

// replace swaps in the contents of a freshly built catalog.
func (c *catalog) replace(n *catalog) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.caps, c.byName, c.byUpdated = n.caps, n.byName, n.byUpdated
}

func insertSorted(list []*capEntry, ce *capEntry, cmp func(a, b *capEntry) int) []*capEntry {
	i, _ := slices.BinarySearchFunc(list, ce, cmp)
	return slices.Insert(list, i, ce)
}

// removeSorted removes ce, which must be at the position its current
// summary sorts to.
func removeSorted(list []*capEntry, ce *capEntry, cmp func(a, b *capEntry) int) []*capEntry {
	i, found := slices.BinarySearchFunc(list, ce, cmp)
	if !found || list[i] != ce {
		return slices.DeleteFunc(list, func(x *capEntry) bool { return x == ce })
	}
	return slices.Delete(list, i, i+1)
}

// remove forgets a deleted version, and the capability with its last one.
func (c *catalog) remove(name, version string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	ce, ok := c.caps[name]
	if !ok {
		return
	}
	c.byUpdated = removeSorted(c.byUpdated, ce, compareUpdated)
	ce.versions = slices.DeleteFunc(ce.versions, func(vi verInfo) bool { return vi.version == version })
	if len(ce.versions) == 0 {
		delete(c.caps, name)
		c.byName = removeSorted(c.byName, ce, compareName)
		return
	}
	ce.summarize()
	c.byUpdated = insertSorted(c.byUpdated, ce, compareUpdated)
}

// versionOfTag returns the version tag names in the capability repo:
// "latest" or a version's tag (store.Tag). False when repo is no
// capability or tag names none of its versions.
func (c *catalog) versionOfTag(repo, tag string) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ce, ok := c.caps[repo]
	if !ok || tag == "" {
		return "", false
	}
	if tag == "latest" {
		return ce.summary.Latest, true
	}
	version := store.VersionOfTag(tag)
	for _, vi := range ce.versions {
		if vi.version == version {
			return version, true
		}
	}
	return "", false
}

// tags lists the tags of a capability's versions and "latest"; false when
// repo is no capability.
func (c *catalog) tags(repo string) ([]string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ce, ok := c.caps[repo]
	if !ok {
		return nil, false
	}
	tags := make([]string, 0, len(ce.versions)+1)
	for _, vi := range ce.versions {
		tags = append(tags, store.Tag(vi.version))
	}
	return append(tags, "latest"), true
}

// names lists every capability name.
func (c *catalog) names() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	names := make([]string, 0, len(c.byName))
	for _, ce := range c.byName {
		names = append(names, ce.summary.Name)
	}
	return names
}
