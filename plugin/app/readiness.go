package app

import (
	"context"
	"slices"
	"sync"
)

// readiness gathers the conditions the daemon waits on. Each stage sets
// its own condition, or watches one that is computed when asked;
// /readyz answers 200 only when none is pending.
type readiness struct {
	mu      sync.Mutex
	pending map[string]string        // condition -> why it is not met
	watched map[string]func() string // condition -> why it is not met now ("" when met)
}

// set marks condition met (reason "") or pending with reason.
func (r *readiness) set(condition, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending == nil {
		r.pending = map[string]string{}
	}
	if reason == "" {
		delete(r.pending, condition)
		return
	}
	r.pending[condition] = reason
}

// watch makes condition's reason whatever why says each time readiness is
// asked. why must be cheap and safe for concurrent use.
func (r *readiness) watch(condition string, why func() string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.watched == nil {
		r.watched = map[string]func() string{}
	}
	r.watched[condition] = why
}

// reasons lists why the daemon is not ready, sorted; empty when ready.
func (r *readiness) reasons(context.Context) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.pending)+len(r.watched))
	for c, why := range r.pending {
		out = append(out, c+": "+why)
	}
	for c, f := range r.watched {
		if why := f(); why != "" {
			out = append(out, c+": "+why)
		}
	}
	slices.Sort(out)
	return out
}
