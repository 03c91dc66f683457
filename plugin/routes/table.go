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

// Table maps "namespace/name" to an Entry. It is safe for concurrent use:
// readers load the current snapshot without locking; writers build the
// next one aside and swap it in.
type Table struct {
	cur     atomic.Pointer[snapshot]
	writeMu sync.Mutex
	ready   atomic.Bool
}

// snapshot is one immutable state of the table.
type snapshot struct {
	// byNS maps a namespace to its functions' entries, by name (which may
	// be package/name); two levels so that a lookup builds no key.
	byNS map[string]map[string]Entry
	// decisive counts, by function name across namespaces, the entries
	// the Router may act on (a refusing state or aliases): a request on
	// the caller's own namespace "_" needs the namespace resolved only
	// when this is not zero.
	decisive map[string]int
	n        int
}

// New returns an empty Table.
func New() *Table {
	t := &Table{}
	t.cur.Store(&snapshot{byNS: map[string]map[string]Entry{}, decisive: map[string]int{}})
	return t
}

// Lookup returns the entry of function ns/name.
func (t *Table) Lookup(ns, name string) (Entry, bool) {
	e, ok := t.cur.Load().byNS[ns][name]
	return e, ok
}

// decisive reports whether some namespace has a function called name that
// the Router may refuse or reroute.
func (t *Table) decisive(name string) bool { return t.cur.Load().decisive[name] > 0 }

// Len is the number of functions known.
func (t *Table) Len() int { return t.cur.Load().n }

// Set replaces the entry of a function (or removes it when e is nil); fqn
// is "namespace/name" or "namespace/package/name".
func (t *Table) Set(fqn string, e *Entry) {
	ns, name, _ := strings.Cut(fqn, "/")
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	cur := t.cur.Load()
	next := &snapshot{byNS: maps.Clone(cur.byNS), decisive: cur.decisive, n: cur.n}
	fns := maps.Clone(cur.byNS[ns])
	if fns == nil {
		fns = map[string]Entry{}
	}
	old, had := fns[name]
	delta := 0
	if had {
		next.n--
		if old.decisive() {
			delta--
		}
	}
	if e == nil {
		delete(fns, name)
	} else {
		fns[name] = *e
		next.n++
		if e.decisive() {
			delta++
		}
	}
	if len(fns) == 0 {
		delete(next.byNS, ns)
	} else {
		next.byNS[ns] = fns
	}
	if delta != 0 {
		next.decisive = maps.Clone(cur.decisive)
		if c := next.decisive[name] + delta; c > 0 {
			next.decisive[name] = c
		} else {
			delete(next.decisive, name)
		}
	}
	t.cur.Store(next)
}

// decisive reports whether the Router may act on e: it refuses in this
// state, or it has aliases to route.
func (e Entry) decisive() bool {
	switch e.State {
	case registry.Blocked, registry.Updating, registry.Retired:
		return true
	}
	return len(e.Aliases) > 0
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
