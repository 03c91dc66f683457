// Package sim simulates OpenWhisk actions as response curves with known
// ground truth, so the optimizer's search can be scored over thousands of
// trials: a Function gives the true median duration at each memory size,
// where it runs out of memory or time, and how noisy it is (log-normal
// noise, occasional outliers, cold starts). Action implements
// search.Prober over a Function; Evaluate scores a search, and an
// exhaustive Power Tuning-style grid beside it, against the truth.
package sim

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/fnmgr/fnmgr/optimizer/search"
)

// Function is a simulated action.
type Function struct {
	Name string
	// TimeMs is the true median warm duration at memoryMB.
	TimeMs func(memoryMB int) float64
	// WorkingSetMB: below it every invocation runs out of memory.
	WorkingSetMB int
	// TimeoutMs is the action's time limit (default 60000).
	TimeoutMs int
	// Noise is the log-normal sigma of warm durations.
	Noise float64
	// OutlierRate is the chance that a run is slowed by a factor drawn
	// from [1.2, 3) (a noisy neighbour, a GC pause, CPU throttling).
	OutlierRate float64
	// InitMs is the cold start's initialisation; ColdFactor slows the
	// cold run itself (JIT, caches).
	InitMs     float64
	ColdFactor float64
}

func (f Function) timeout() float64 {
	if f.TimeoutMs <= 0 {
		return 60000
	}
	return float64(f.TimeoutMs)
}

// Feasible reports whether the action's median run, cold start included,
// fits at memoryMB (a size where every new container times out is no
// use in production).
func (f Function) Feasible(memoryMB int) bool {
	return memoryMB >= f.WorkingSetMB && f.TimeMs(memoryMB)*math.Max(f.ColdFactor, 1) <= f.timeout()
}

// Action is one simulated probe session of a Function: a search.Prober.
// It is safe for concurrent use; each memory size draws from its own
// random stream, so results do not depend on scheduling.
type Action struct {
	F    Function
	seed uint64

	mu      sync.Mutex
	streams map[int]*rand.Rand
	calls   int
}

// NewAction returns a probe session of f seeded with seed.
func NewAction(f Function, seed uint64) *Action {
	return &Action{F: f, seed: seed, streams: map[int]*rand.Rand{}}
}

// Invocations is how many invocations were made.
func (a *Action) Invocations() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}

// Probe implements search.Prober.
func (a *Action) Probe(ctx context.Context, memoryMB, n int) ([]search.Observation, error) {
	var out []search.Observation
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		o := a.invoke(memoryMB)
		out = append(out, o)
		if o.Outcome.Infeasible() {
			break
		}
	}
	return out, nil
}

func (a *Action) invoke(mem int) search.Observation {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	r, seen := a.streams[mem]
	if !seen {
		r = rand.New(rand.NewPCG(a.seed, uint64(mem)))
		a.streams[mem] = r
	}
	return a.F.Sample(r, mem, !seen)
}

// Sample draws one invocation at mem (cold: the first of a new container).
func (f Function) Sample(r *rand.Rand, mem int, cold bool) search.Observation {
	o := search.Observation{MemoryMB: mem, Cold: cold, Outcome: search.OK}
	t := f.TimeMs(mem) * math.Exp(f.Noise*r.NormFloat64())
	if r.Float64() < f.OutlierRate {
		t *= 1.2 + 1.8*r.Float64()
	}
	if cold {
		cf := f.ColdFactor
		if cf <= 0 {
			cf = 1
		}
		t *= cf
		o.InitMs = f.InitMs * math.Exp(0.1*r.NormFloat64())
	}
	switch {
	case mem < f.WorkingSetMB:
		o.Outcome = search.OOM
		o.Message = "The action exhausted its memory and was aborted."
		o.DurationMs = o.InitMs + math.Min(t, 200)*r.Float64()
	case t > f.timeout():
		o.Outcome = search.Timeout
		o.Message = "The action exceeded its time limits."
		o.DurationMs = o.InitMs + f.timeout()
	default:
		o.DurationMs = math.Round(o.InitMs + t)
	}
	return o
}

// Grid is the memory grid 64 MB apart from lo to hi.
func Grid(lo, hi int) []int {
	var g []int
	for m := lo; m <= hi; m += 64 {
		g = append(g, m)
	}
	return g
}
