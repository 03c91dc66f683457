package registry

import (
	"encoding/json"
	"sync"
)

// fnCache keeps the function documents this process last read or wrote,
// as JSON (each read decodes a private copy). fnmgr runs as one replica
// (docs/operations.md) and writes the registry only through a Store, so a
// cached document is the stored one; a write that conflicts all the same
// drops the entry, and the next read goes to the database.
type fnCache struct {
	mu   sync.Mutex
	docs map[string]json.RawMessage
}

// maxCached bounds the function documents kept.
const maxCached = 4096

func (c *fnCache) get(id string) (json.RawMessage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.docs[id]
	return d, ok
}

// put remembers f as stored (f.Rev is its revision).
func (c *fnCache) put(f Function) {
	raw, err := json.Marshal(f)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		delete(c.docs, f.ID)
		return
	}
	if c.docs == nil || len(c.docs) >= maxCached {
		c.docs = map[string]json.RawMessage{}
	}
	c.docs[f.ID] = raw
}

func (c *fnCache) drop(id string) {
	c.mu.Lock()
	delete(c.docs, id)
	c.mu.Unlock()
}
