package embedded

import (
	"context"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/capcenter/capcenter/store"
)

// The orderings ListCapabilities accepts.
const (
	orderName       = "name"
	orderNameDesc   = "name desc"
	orderUpdated    = "updated"
	orderUpdateDesc = "updated desc"
)

// GetCapability returns one capability's summary from the catalog. An
// unknown name wraps store.ErrNotFound.
func (s *Store) GetCapability(ctx context.Context, name string) (store.Capability, error) {
	if err := s.ready(ctx); err != nil {
		return store.Capability{}, fmt.Errorf("%s: %w", name, err)
	}
	s.catalog.mu.RLock()
	defer s.catalog.mu.RUnlock()
	ce, ok := s.catalog.caps[name]
	if !ok {
		return store.Capability{}, fmt.Errorf("%s: %w", name, store.ErrNotFound)
	}
	return ce.copySummary(), nil
}

// copySummary returns the summary with its own Keywords slice, so callers
// cannot change the catalog.
func (ce *capEntry) copySummary() store.Capability {
	c := ce.summary
	c.Keywords = slices.Clone(c.Keywords)
	return c
}

// ListCapabilities searches the catalog in memory. An unknown OrderBy, a
// negative page size, or a page token not issued for the same query wraps
// store.ErrInvalidArgument.
func (s *Store) ListCapabilities(ctx context.Context, q store.Query) (store.Page[store.Capability], error) {
	var page store.Page[store.Capability]
	if err := s.ready(ctx); err != nil {
		return page, err
	}
	size, err := pageSize(q.Size)
	if err != nil {
		return page, err
	}
	order := q.OrderBy
	if order == "" {
		order = orderName
	}
	if !slices.Contains([]string{orderName, orderNameDesc, orderUpdated, orderUpdateDesc}, order) {
		return page, fmt.Errorf("order_by %q: %w: want name, name desc, updated or updated desc", q.OrderBy, store.ErrInvalidArgument)
	}
	hash := queryHash("capabilities", strings.Join(strings.Fields(strings.ToLower(q.Text)), " "), q.Kind, q.Keyword, order)
	after, err := decodeToken(q.Token, hash)
	if err != nil {
		return page, err
	}
	si := s.catalog.index()
	words := si.matchWords(strings.Fields(strings.ToLower(q.Text)))
	var last *store.Capability
	more := false
	for i := range si.order(order) {
		c := &si.caps[i]
		if (words != nil && !words[i]) || (q.Kind != "" && c.Kind != q.Kind) ||
			(q.Keyword != "" && !slices.Contains(c.Keywords, q.Keyword)) {
			continue
		}
		page.Total++
		if after != nil && !after.before(c, order) {
			continue
		}
		if len(page.Items) == size {
			more = true
			continue
		}
		item := *c
		item.Keywords = slices.Clone(c.Keywords)
		page.Items = append(page.Items, item)
		last = c
	}
	if more {
		page.Next = encodeToken(cursor{Name: last.Name, Updated: last.Updated.UnixNano(), Hash: hash})
	}
	return page, nil
}

// before reports whether the cursor sorts strictly before ce in the order.
func (c *cursor) before(capability *store.Capability, order string) bool {
	cmp := strings.Compare(c.Name, capability.Name)
	if order == orderUpdated || order == orderUpdateDesc {
		if u := capability.Updated.UnixNano(); c.Updated != u {
			cmp = -1
			if c.Updated > u {
				cmp = 1
			}
		}
	}
	if order == orderNameDesc || order == orderUpdateDesc {
		return cmp > 0
	}
	return cmp < 0
}

// ListVersions lists a capability's versions highest first: the order and
// page come from the catalog, the versions from one read transaction. An
// unknown capability wraps store.ErrNotFound; a bad page request wraps
// store.ErrInvalidArgument.
func (s *Store) ListVersions(ctx context.Context, name string, pr store.PageRequest) (store.Page[store.Version], error) {
	var page store.Page[store.Version]
	if err := s.ready(ctx); err != nil {
		return page, fmt.Errorf("%s: %w", name, err)
	}
	size, err := pageSize(pr.Size)
	if err != nil {
		return page, err
	}
	hash := queryHash("versions", name)
	after, err := decodeToken(pr.Token, hash)
	if err != nil {
		return page, err
	}
	versions, total, more, err := s.catalog.versionPage(name, after, size)
	if err != nil {
		return page, err
	}
	page.Total = total
	if more {
		page.Next = encodeToken(cursor{Name: versions[len(versions)-1], Hash: hash})
	}
	if err := ctx.Err(); err != nil {
		return page, err
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		for _, version := range versions {
			v, err := readVersion(tx, name, version)
			if err != nil {
				return err
			}
			page.Items = append(page.Items, v)
		}
		return nil
	})
	if err != nil {
		return store.Page[store.Version]{}, fmt.Errorf("%s: %w", name, translate(err))
	}
	return page, nil
}

// versionPage returns one page of a capability's version strings after
// the cursor's version, the number of versions, and whether more follow.
func (c *catalog) versionPage(name string, after *cursor, size int) (page []string, total int, more bool, err error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ce, ok := c.caps[name]
	if !ok {
		return nil, 0, false, fmt.Errorf("%s: %w", name, store.ErrNotFound)
	}
	start := 0
	if after != nil {
		key, err := newVerInfo(store.Version{Name: name, Version: after.Name})
		if err != nil {
			return nil, 0, false, fmt.Errorf("page_token: %w: %w", store.ErrInvalidArgument, err)
		}
		start, _ = slices.BinarySearchFunc(ce.versions, key, compareVersions)
		if start < len(ce.versions) && ce.versions[start].version == after.Name {
			start++
		}
	}
	end := min(start+size, len(ce.versions))
	for _, vi := range ce.versions[start:end] {
		page = append(page, vi.version)
	}
	return page, len(ce.versions), end < len(ce.versions), nil
}

// GetVersion returns one version with its state. Version "latest" is the
// capability's Latest. An unknown capability or version wraps
// store.ErrNotFound.
func (s *Store) GetVersion(ctx context.Context, name, version string) (store.Version, error) {
	if err := s.ready(ctx); err != nil {
		return store.Version{}, fmt.Errorf("%s@%s: %w", name, version, err)
	}
	if version == "latest" {
		c, err := s.GetCapability(ctx, name)
		if err != nil {
			return store.Version{}, err
		}
		version = c.Latest
	}
	var v store.Version
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = readVersion(tx, name, version)
		return err
	})
	if err != nil {
		return store.Version{}, translate(err)
	}
	return v, nil
}
