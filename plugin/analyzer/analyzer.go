// Package analyzer is the passive half of fnmgr's Fn Exec Analyzer: it
// follows OpenWhisk's user events (the events topic) and keeps, per
// function, activation counts, errors, cold starts and durations by memory
// size: what real traffic says about a function, without a single probe
// invocation. It also raises an alert when a function that may not run
// shows a successful activation (its stub never succeeds, so user code
// ran: an enforcement violation).
package analyzer

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/kafka/consumer"
	"github.com/fnmgr/fnmgr/kafka/message"
	"github.com/fnmgr/fnmgr/plugin/registry"
)

// StateOf reports a function's lifecycle state (from memory: the gateway's
// table), and whether fnmgr knows the function.
type StateOf func(ns, name string) (registry.State, bool)

// sampleCap bounds the durations kept per function and memory size.
const sampleCap = 512

// MemoryStats are the activations seen at one memory size.
type MemoryStats struct {
	MemoryMB    int     `json:"memoryMB"`
	Count       int64   `json:"count"`
	Errors      int64   `json:"errors"`
	ColdStarts  int64   `json:"coldStarts"`
	MeanMs      float64 `json:"meanMs"`
	MedianMs    float64 `json:"medianMs"`
	sum         float64
	samples     []int64
	sampleIndex int64
}

// Stats are a function's activations.
type Stats struct {
	Activations int64         `json:"activations"`
	Errors      int64         `json:"errors"`
	ColdStarts  int64         `json:"coldStarts"`
	ByMemory    []MemoryStats `json:"byMemory"`
}

type fnStats struct {
	activations, errors, cold int64
	byMem                     map[int]*MemoryStats
}

// seenCap bounds the activation ids remembered to drop duplicates (Kafka
// delivers at least once: a message redelivered after a rebalance or a
// producer retry is counted once).
const seenCap = 200_000

// Analyzer is safe for concurrent use.
type Analyzer struct {
	mu         sync.Mutex
	fns        map[string]*fnStats
	seen       *seenSet
	stateOf    StateOf
	events     *prometheus.CounterVec
	violations prometheus.Counter
	last       atomic.Int64 // unix nanoseconds of the last event handled
}

// LastEvent is when the last event (of any kind) arrived; zero if none has.
func (a *Analyzer) LastEvent() time.Time {
	if n := a.last.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// New returns an Analyzer registering its metrics on reg (nil: none).
func New(stateOf StateOf, reg prometheus.Registerer) *Analyzer {
	a := &Analyzer{fns: map[string]*fnStats{}, seen: newSeenSet(seenCap), stateOf: stateOf,
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "fnmgr", Subsystem: "events",
			Name: "activations_total", Help: "Activation user events seen on the events topic, by status."}, []string{"status"}),
		violations: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "fnmgr", Subsystem: "lifecycle",
			Name: "enforcement_violations_total",
			Help: "Successful activations of functions that may not run (BLOCKED, UPDATING, RETIRED): user code ran."}),
	}
	if reg != nil {
		reg.MustRegister(a.events, a.violations)
	}
	return a
}

// Handle is a consumer.Handler for the events topic.
func (a *Analyzer) Handle(_ context.Context, _ string, value []byte) error {
	var e message.Event
	if err := message.Decode(value, &e); err != nil {
		return fmt.Errorf("%w: %w", consumer.ErrMalformed, err)
	}
	a.last.Store(time.Now().UnixNano())
	if e.Activation == nil {
		return nil // Metric events carry nothing per function
	}
	a.Record(*e.Activation)
	return nil
}

// Record adds one activation.
func (a *Analyzer) Record(ev message.ActivationEvent) {
	ns, name, ok := strings.Cut(ev.Name, "/")
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if ev.ActivationID != "" && !a.seen.add(ev.ActivationID) {
		return // a redelivery
	}
	a.events.WithLabelValues(entity.StatusLabel(ev.StatusCode)).Inc()
	if a.stateOf != nil && ev.StatusCode == 0 {
		base := name
		if b, _, managed := registry.SplitManaged(name); managed {
			base = b
		}
		if s, known := a.stateOf(ns, base); known && !s.Runnable() {
			a.violations.Inc()
		}
	}
	f := a.fns[ev.Name]
	if f == nil {
		f = &fnStats{byMem: map[int]*MemoryStats{}}
		a.fns[ev.Name] = f
	}
	f.activations++
	m := f.byMem[ev.Memory]
	if m == nil {
		m = &MemoryStats{MemoryMB: ev.Memory}
		f.byMem[ev.Memory] = m
	}
	m.Count++
	if ev.StatusCode != 0 {
		f.errors++
		m.Errors++
	}
	if ev.InitTime > 0 {
		f.cold++
		m.ColdStarts++
	}
	m.sum += float64(ev.Duration)
	if len(m.samples) < sampleCap {
		m.samples = append(m.samples, ev.Duration)
	} else {
		m.samples[m.sampleIndex%sampleCap] = ev.Duration
	}
	m.sampleIndex++
}

// Stats returns the statistics of function ns/name (fqn as the events name
// it: "guest/hello", "guest/pkg/hello").
func (a *Analyzer) Stats(fqn string) (Stats, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f, ok := a.fns[fqn]
	if !ok {
		return Stats{}, false
	}
	s := Stats{Activations: f.activations, Errors: f.errors, ColdStarts: f.cold}
	for _, m := range f.byMem {
		out := *m
		out.samples = nil
		out.MeanMs = m.sum / float64(m.Count)
		out.MedianMs = median(m.samples)
		s.ByMemory = append(s.ByMemory, out)
	}
	sort.Slice(s.ByMemory, func(i, j int) bool { return s.ByMemory[i].MemoryMB < s.ByMemory[j].MemoryMB })
	return s, true
}

// Forget drops a purged function's statistics.
func (a *Analyzer) Forget(fqn string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.fns, fqn)
}

func median(xs []int64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]int64(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return float64(s[len(s)/2])
	}
	return float64(s[len(s)/2-1]+s[len(s)/2]) / 2
}
