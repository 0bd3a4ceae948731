package server

import (
	"container/list"
	"context"
	"sync"

	"github.com/capcenter/capcenter/capabilities"
)

// semaphore bounds concurrent CUE evaluations; its capacity is the bound.
type semaphore chan struct{}

// acquire waits for a free slot. It fails with ctx's error when ctx ends
// first.
func (s semaphore) acquire(ctx context.Context) error {
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tryAcquire takes a free slot without waiting; false when there is none.
func (s semaphore) tryAcquire() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

// release frees a slot taken by acquire.
func (s semaphore) release() { <-s }

// bundleCache keeps the most recently used unpacked bundles by manifest
// digest. Bundles are immutable once unpacked, so they are shared. A nil
// or zero-capacity cache keeps nothing.
type bundleCache struct {
	mu    sync.Mutex
	cap   int
	order *list.List // of *cacheEntry, most recent first
	byKey map[string]*list.Element
}

type cacheEntry struct {
	digest string
	bundle *capabilities.Bundle
}

// newBundleCache returns a cache of size entries; size <= 0 disables it.
func newBundleCache(size int) *bundleCache {
	return &bundleCache{cap: max(size, 0), order: list.New(), byKey: map[string]*list.Element{}}
}

// get returns the bundle cached for digest.
func (c *bundleCache) get(digest string) (*capabilities.Bundle, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[digest]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cacheEntry).bundle, true
}

// add caches b under digest, evicting the least recently used bundle when
// full.
func (c *bundleCache) add(digest string, b *capabilities.Bundle) {
	if c.cap == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[digest]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.byKey[digest] = c.order.PushFront(&cacheEntry{digest: digest, bundle: b})
	if c.order.Len() > c.cap {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*cacheEntry).digest)
	}
}
