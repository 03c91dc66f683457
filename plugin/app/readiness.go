package app

import (
	"context"
	"slices"
	"sync"
)

// readiness gathers the conditions the daemon waits on. Each component
// sets its own condition; /readyz answers 200 only when none is pending.
type readiness struct {
	mu      sync.Mutex
	pending map[string]string // condition -> why it is not met
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

// reasons lists why the daemon is not ready, sorted; empty when ready.
func (r *readiness) reasons(context.Context) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.pending))
	for c, why := range r.pending {
		out = append(out, c+": "+why)
	}
	slices.Sort(out)
	return out
}
