// Package invokers follows OpenWhisk's health topic: every invoker pings
// each second with its user memory. From the pings it derives MAX_MEMORY
// (the largest user memory an invoker reports, the upper bound of a
// function's memorySize) and each invoker's liveness.
package invokers

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/fnmgr/fnmgr/kafka/consumer"
	"github.com/fnmgr/fnmgr/kafka/message"
)

// Invoker is what the last ping said.
type Invoker struct {
	Instance     int       `json:"instance"`
	Name         string    `json:"name"`
	UserMemoryMB int       `json:"userMemoryMB"`
	Enabled      bool      `json:"enabled"`
	LastPing     time.Time `json:"lastPing"`
	Healthy      bool      `json:"healthy"`
}

// Tracker is safe for concurrent use.
type Tracker struct {
	mu       sync.Mutex
	seen     map[int]Invoker
	maxMB    int
	stale    time.Duration
	now      func() time.Time
	fallback int
	last     time.Time
}

// New returns a Tracker; an invoker silent for longer than stale (default
// 10s, OpenWhisk marks invokers unhealthy after missed pings) is unhealthy.
// fallbackMB is MAX_MEMORY until a ping arrives (0: unknown).
func New(stale time.Duration, fallbackMB int) *Tracker {
	if stale <= 0 {
		stale = 10 * time.Second
	}
	return &Tracker{seen: map[int]Invoker{}, stale: stale, now: time.Now, fallback: fallbackMB}
}

// Handle is a consumer.Handler for the health topic.
func (t *Tracker) Handle(_ context.Context, _ string, value []byte) error {
	var p message.Ping
	if err := message.Decode(value, &p); err != nil {
		return fmt.Errorf("%w: %w", consumer.ErrMalformed, err)
	}
	b, err := message.ParseByteSize(p.Name.UserMemory)
	if err != nil {
		return fmt.Errorf("%w: %w", consumer.ErrMalformed, err)
	}
	mb := int(b >> 20)
	t.mu.Lock()
	defer t.mu.Unlock()
	name := p.Name.UniqueName
	if name == "" {
		name = fmt.Sprintf("invoker%d", p.Name.Instance)
	}
	t.seen[p.Name.Instance] = Invoker{Instance: p.Name.Instance, Name: name, UserMemoryMB: mb,
		Enabled: p.IsEnabled == nil || *p.IsEnabled, LastPing: t.now()}
	t.maxMB = max(t.maxMB, mb)
	t.last = t.now()
	return nil
}

// LastPing is when the last health ping arrived; zero if none has.
func (t *Tracker) LastPing() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// MaxMemoryMB is the largest user memory any invoker reported, or the
// fallback before the first ping.
func (t *Tracker) MaxMemoryMB() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.maxMB == 0 {
		return t.fallback
	}
	return t.maxMB
}

// Invokers lists the invokers seen, with their health.
func (t *Tracker) Invokers() []Invoker {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	out := make([]Invoker, 0, len(t.seen))
	for _, inv := range t.seen {
		inv.Healthy = inv.Enabled && now.Sub(inv.LastPing) <= t.stale
		out = append(out, inv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Instance < out[j].Instance })
	return out
}
