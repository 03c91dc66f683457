// Package routes holds what the gateway decides on for every request, in
// memory: each function's lifecycle state and its aliases' weighted
// routing. A Table is rebuilt aside and swapped in atomically (readers
// never lock), and kept current by following the Meta Registry's change
// feed, so the request path makes no database call.
package routes

import (
	"context"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fnmgr/fnmgr/couch/feed"
	"github.com/fnmgr/fnmgr/plugin/registry"
)

// Entry is what the gateway knows of one function.
type Entry struct {
	State   registry.State
	Aliases map[string][]registry.Route
}

// Table maps "namespace/name" to an Entry. It is safe for concurrent use.
type Table struct {
	cur     atomic.Pointer[map[string]Entry]
	writeMu sync.Mutex
	ready   atomic.Bool
}

// New returns an empty Table.
func New() *Table {
	t := &Table{}
	m := map[string]Entry{}
	t.cur.Store(&m)
	return t
}

// Lookup returns the entry of function ns/name.
func (t *Table) Lookup(ns, name string) (Entry, bool) {
	e, ok := (*t.cur.Load())[ns+"/"+name]
	return e, ok
}

// Len is the number of functions known.
func (t *Table) Len() int { return len(*t.cur.Load()) }

// Set replaces the entry of a function (or removes it when e is nil).
func (t *Table) Set(fqn string, e *Entry) {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	next := maps.Clone(*t.cur.Load())
	if e == nil {
		delete(next, fqn)
	} else {
		next[fqn] = *e
	}
	t.cur.Store(&next)
}

// Ready reports whether the table has caught up with the registry.
func (t *Table) Ready() bool { return t.ready.Load() }

// MarkReady is called once the feed has caught up.
func (t *Table) MarkReady() { t.ready.Store(true) }

// EntryOf builds the entry of a registry function.
func EntryOf(f registry.Function) Entry {
	e := Entry{State: f.State, Aliases: make(map[string][]registry.Route, len(f.Aliases))}
	for name, a := range f.Aliases {
		e.Aliases[name] = a.Routing
	}
	return e
}

// Observe is a feed.Handler for the registry database: function documents
// update the table; everything else is ignored.
func (t *Table) Observe(_ context.Context, c feed.Change) error {
	if !strings.HasPrefix(c.ID, "f:") {
		return nil
	}
	fqn := strings.TrimPrefix(c.ID, "f:")
	if c.Deleted {
		t.Set(fqn, nil)
		return nil
	}
	var f registry.Function
	if err := json.Unmarshal(c.Doc, &f); err != nil {
		return nil // not ours to judge; the registry writes these documents
	}
	e := EntryOf(f)
	t.Set(fqn, &e)
	return nil
}

// Pick chooses a version from a weighted routing (weights add up to 100,
// or one route).
func Pick(routing []registry.Route) int {
	if len(routing) == 1 {
		return routing[0].Version
	}
	total := 0
	for _, r := range routing {
		total += r.Weight
	}
	if total <= 0 {
		return routing[0].Version
	}
	n := rand.IntN(total)
	for _, r := range routing {
		if n < r.Weight {
			return r.Version
		}
		n -= r.Weight
	}
	return routing[len(routing)-1].Version
}

// MemoryCheckpoints keeps a feed checkpoint in memory: the table is
// rebuilt from the start of the registry's feed at every start.
type MemoryCheckpoints struct {
	mu  sync.Mutex
	seq string
}

// Load implements feed.Checkpoints.
func (m *MemoryCheckpoints) Load(context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seq, nil
}

// Save implements feed.Checkpoints.
func (m *MemoryCheckpoints) Save(_ context.Context, seq string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq = seq
	return nil
}
