// Package deployment knows the facts of the OpenWhisk deployment fnmgr sits
// beside that bound a function's run-time settings: the action limits and
// the runtime kinds, read from a controller's GET / (no auth); a
// namespace's limits and throttle, from GET /api/v1/namespaces/{ns}/limits
// (the namespace's key) where the controller offers it; and MAX_MEMORY, the
// largest invoker user memory (from health pings, or configured). Every
// limit fnmgr writes lies within the tightest of them (Limits, CheckLimits,
// MemoryBounds), and stubs use a kind the controller offers (StubKind).
package deployment

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// MemorySource reports MAX_MEMORY from invoker health pings (0: unknown).
type MemorySource interface {
	MaxMemoryMB() int
}

// Options configure Info.
type Options struct {
	ControllerURL string
	HTTPClient    *http.Client
	Memory        MemorySource
	// MaxMemoryMB, when set, overrides the health pings.
	MaxMemoryMB int
	// MaxGPUNum is the most GPUs one node offers (default 8).
	MaxGPUNum int
	// Refresh is how long the controller's answer is reused (default 1m).
	Refresh time.Duration
	// Keys, when set, read a namespace's limits with its own key.
	Keys Keys
	// StubKind, when set, is the kind of stubs of functions whose kind is
	// neither nodejs nor python; it must be one the controller offers.
	StubKind string
}

// Info is safe for concurrent use.
type Info struct {
	o       Options
	mu      sync.Mutex
	root    entity.RootInfo
	fetched time.Time
	ns      map[string]nsEntry
}

// New returns Info.
func New(o Options) *Info {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.MaxGPUNum <= 0 {
		o.MaxGPUNum = 8
	}
	if o.Refresh <= 0 {
		o.Refresh = time.Minute
	}
	return &Info{o: o, ns: map[string]nsEntry{}}
}

// Root returns the controller's GET / body, cached.
func (i *Info) Root(ctx context.Context) (entity.RootInfo, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if !i.fetched.IsZero() && time.Since(i.fetched) < i.o.Refresh {
		return i.root, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, i.o.ControllerURL+"/", nil)
	if err != nil {
		return entity.RootInfo{}, fmt.Errorf("deployment: %w", err)
	}
	resp, err := i.o.HTTPClient.Do(req)
	if err != nil {
		return entity.RootInfo{}, fmt.Errorf("deployment: read the controller's limits: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return entity.RootInfo{}, fmt.Errorf("deployment: controller GET / answered %s", resp.Status)
	}
	var root entity.RootInfo
	if err := json.NewDecoder(resp.Body).Decode(&root); err != nil {
		return entity.RootInfo{}, fmt.Errorf("deployment: decode controller info: %w", err)
	}
	i.root, i.fetched = root, time.Now()
	return root, nil
}

// MinMemoryMB is the deployment's smallest action memory (at least 64).
func (i *Info) MinMemoryMB(ctx context.Context) (int, error) {
	root, err := i.Root(ctx)
	if err != nil {
		return 0, err
	}
	return max(int(root.Limits.MinActionMemory>>20), fallbackMinMemoryMB), nil
}

// MaxMemoryMB is the largest memory an action may have in any namespace:
// MAX_MEMORY (configured, else the largest invoker user memory seen in
// health pings), no more than the controller's max_action_memory once GET /
// has been read; the controller's alone while no ping has arrived; 0 when
// neither is known. Limits and MemoryBounds add the namespace's bound.
func (i *Info) MaxMemoryMB() int {
	pool := i.poolMemoryMB()
	i.mu.Lock()
	ctl := int(i.root.Limits.MaxActionMemory >> 20)
	i.mu.Unlock()
	switch {
	case ctl > 0 && (pool == 0 || ctl < pool):
		return ctl
	default:
		return pool
	}
}

// poolMemoryMB is MAX_MEMORY: configured, else from the health pings.
func (i *Info) poolMemoryMB() int {
	if i.o.MaxMemoryMB > 0 {
		return i.o.MaxMemoryMB
	}
	if i.o.Memory != nil {
		return i.o.Memory.MaxMemoryMB()
	}
	return 0
}

// MaxGPUNum is the most GPUs a function may ask for.
func (i *Info) MaxGPUNum() int { return i.o.MaxGPUNum }

// Kinds lists the runtime kinds the deployment offers, sorted.
func (i *Info) Kinds(ctx context.Context) ([]string, error) {
	root, err := i.Root(ctx)
	if err != nil {
		return nil, err
	}
	var kinds []string
	for _, family := range root.Runtimes {
		for _, r := range family {
			kinds = append(kinds, r.Kind)
		}
	}
	sort.Strings(kinds)
	return kinds, nil
}
