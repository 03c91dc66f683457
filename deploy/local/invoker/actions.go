package invoker

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
)

// Bounds of the action cache.
const (
	cacheMaxEntries = 512
	cacheMaxBytes   = 64 << 20 // code bytes
)

// runnable is an action revision with its code.
type runnable struct {
	action entity.Action
	code   []byte
}

// actionCache reads actions and their code through an actionSource and keeps
// them by document id and revision, least recently used first out. A
// revision never changes, so entries need no invalidation; a message without
// a revision always reads the latest document (as OpenWhisk bypasses its
// cache then).
type actionCache struct {
	src actionSource

	mu      sync.Mutex
	entries map[string]*list.Element // docid@rev → element of lru holding *cacheEntry
	lru     *list.List               // front = most recently used
	bytes   int
}

type cacheEntry struct {
	key string
	r   *runnable
}

func newActionCache(src actionSource) *actionCache {
	return &actionCache{src: src, entries: map[string]*list.Element{}, lru: list.New()}
}

// get returns the action docid at rev (the latest when rev is ""). When that
// revision is gone (the action was updated since and the old revision
// compacted away) it falls back to the latest revision, as OpenWhisk retries
// after a revision mismatch.
func (c *actionCache) get(ctx context.Context, docid, rev string) (*runnable, error) {
	r, err := c.getAt(ctx, docid, rev)
	if err != nil && rev != "" && errors.Is(err, whiskdb.ErrNotFound) && ctx.Err() == nil {
		return c.getAt(ctx, docid, "")
	}
	return r, err
}

func (c *actionCache) getAt(ctx context.Context, docid, rev string) (*runnable, error) {
	if rev != "" {
		if r := c.lookup(docid + "@" + rev); r != nil {
			return r, nil
		}
	}
	a, err := c.src.GetAction(ctx, docid, rev)
	if err != nil {
		return nil, fmt.Errorf("invoker: read action %s: %w", docid, err)
	}
	key := docid + "@" + a.Rev
	if r := c.lookup(key); r != nil {
		return r, nil
	}
	r := &runnable{action: a}
	if needsCode(a.Exec) {
		code, err := c.src.ActionCode(ctx, a)
		if err != nil {
			return nil, fmt.Errorf("invoker: read code of %s: %w", docid, err)
		}
		r.code = code
	}
	c.add(key, r)
	return r, nil
}

// needsCode reports whether running exec needs its code: not for sequences
// (never run by an invoker) nor blackbox images (which cannot run here).
func needsCode(e entity.Exec) bool {
	return e.Kind != entity.KindSequence && e.Kind != entity.KindBlackbox && e.Code != nil
}

func (c *actionCache) lookup(key string) *runnable {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(el)
	return el.Value.(*cacheEntry).r
}

func (c *actionCache) add(key string, r *runnable) {
	if len(r.code) > cacheMaxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; ok {
		return
	}
	c.entries[key] = c.lru.PushFront(&cacheEntry{key: key, r: r})
	c.bytes += len(r.code)
	for c.lru.Len() > cacheMaxEntries || c.bytes > cacheMaxBytes {
		el := c.lru.Back()
		e := el.Value.(*cacheEntry)
		c.lru.Remove(el)
		delete(c.entries, e.key)
		c.bytes -= len(e.r.code)
	}
}

// len is the number of cached revisions.
func (c *actionCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// fetchErrorResponse is InvokerReactive's answer to an action it could not
// read: a missing document is an application error (the user deleted the
// action while invoking it), an unreadable one or any other fault a whisk
// internal error.
func fetchErrorResponse(err error) entity.ActivationResponse {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(err, whiskdb.ErrNotFound):
		return errorResponse(entity.StatusApplicationError, msgActionRemoved)
	case errors.As(err, &syntaxErr), errors.As(err, &typeErr):
		return errorResponse(entity.StatusInternalError, msgActionMismatch)
	default:
		return errorResponse(entity.StatusInternalError, msgActionFetch)
	}
}
