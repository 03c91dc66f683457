package registry

import (
	"encoding/json"
	"sync"
)

// fnCache keeps the function documents this process last read or wrote,
// as JSON (each read decodes a private copy). A cached document is the
// stored one only while this process is the registry's one writer: the
// single replica, or the leader of several (docs/architecture.md), for
// one lease epoch. So every entry belongs to an epoch: a read or write
// under epoch 0 (a follower, or a leader whose lease lapsed) neither uses
// nor fills the cache, and entries of another epoch are dropped. A write
// that conflicts all the same drops the entry, and the next read goes to
// the database.
type fnCache struct {
	mu    sync.Mutex
	epoch int64
	docs  map[string]json.RawMessage
}

// maxCached bounds the function documents kept.
const maxCached = 4096

// at makes ep the cache's epoch (dropping entries of another) and reports
// whether it may be used at all; c.mu is held.
func (c *fnCache) at(ep int64) bool {
	if ep == 0 {
		return false
	}
	if c.epoch != ep {
		c.epoch, c.docs = ep, nil
	}
	return true
}

func (c *fnCache) get(id string, ep int64) (json.RawMessage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at(ep) {
		return nil, false
	}
	d, ok := c.docs[id]
	return d, ok
}

// put remembers f as stored (f.Rev is its revision), read or written
// under epoch ep.
func (c *fnCache) put(f Function, ep int64) {
	raw, err := json.Marshal(f)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil || !c.at(ep) {
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
