package controller

import (
	"sync"
	"time"
)

// entityCache caches raw entity documents by docid. An entry expires ttl
// after its last use (OpenWhisk's MultipleReadersSingleWriterCache). A load
// that started before an invalidation is not cached (gen check), so a
// concurrent read cannot put back a stale copy.
type entityCache struct {
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	items map[string]*cacheItem
	gen   uint64
}

type cacheItem struct {
	raw  []byte
	last time.Time
}

func newEntityCache(ttl time.Duration) *entityCache {
	return &entityCache{ttl: ttl, now: time.Now, items: map[string]*cacheItem{}}
}

// get returns the cached document and refreshes its last use.
func (c *entityCache) get(id string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[id]
	if !ok {
		return nil, false
	}
	now := c.now()
	if now.Sub(it.last) > c.ttl {
		delete(c.items, id)
		return nil, false
	}
	it.last = now
	return it.raw, true
}

// generation returns the invalidation counter a loader records before it
// reads the database.
func (c *entityCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches raw under id unless an invalidation happened since gen.
func (c *entityCache) put(id string, raw []byte, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	now := c.now()
	if len(c.items) >= 1024 {
		for k, it := range c.items {
			if now.Sub(it.last) > c.ttl {
				delete(c.items, k)
			}
		}
	}
	c.items[id] = &cacheItem{raw: raw, last: now}
}

// invalidate drops id.
func (c *entityCache) invalidate(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.items, id)
	c.gen++
}

// len reports the number of entries (for tests).
func (c *entityCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}
