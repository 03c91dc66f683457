package main

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// clock matches writes with the revisions fnmgr recorded: a write that
// made generation g of a document is recorded once fnmgr's handler has
// returned for a change of that document of generation g or later (the
// feed shows a document's latest revision; fnmgr reads back the ones it
// skipped).
type clock struct {
	mu   sync.Mutex
	seen map[string][]sighting // by document id
	wait map[string][]write
	done []time.Duration
}

type sighting struct {
	gen int
	at  time.Time
}

type write struct {
	gen int
	t0  time.Time
}

func newClock() *clock { c := &clock{}; c.reset(); return c }

func (c *clock) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen, c.wait, c.done = map[string][]sighting{}, map[string][]write{}, nil
}

func (c *clock) observed(id string, gen int, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[id] = append(c.seen[id], sighting{gen, at})
	c.settle(id)
}

func (c *clock) wrote(name string, t0 time.Time, gen int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := "guest/" + name
	c.wait[id] = append(c.wait[id], write{gen, t0})
	c.settle(id)
}

// settle resolves the writes of id that a sighting covers: the first
// sighting of generation gen or later.
func (c *clock) settle(id string) {
	var left []write
	for _, w := range c.wait[id] {
		var hit *sighting
		for i := range c.seen[id] {
			if s := &c.seen[id][i]; s.gen >= w.gen && (hit == nil || s.at.Before(hit.at)) {
				hit = s
			}
		}
		if hit == nil {
			left = append(left, w)
			continue
		}
		c.done = append(c.done, hit.at.Sub(w.t0))
	}
	c.wait[id] = left
}

func (c *clock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, w := range c.wait {
		n += len(w)
	}
	return n
}

func (c *clock) lags() ([]time.Duration, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, w := range c.wait {
		n += len(w)
	}
	return append([]time.Duration(nil), c.done...), n
}

func generation(rev string) int {
	g, _, _ := strings.Cut(rev, "-")
	n, _ := strconv.Atoi(g)
	return n
}
