package replay

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"

	"github.com/fnmgr/fnmgr/optimizer/search"
)

// DefaultNoise is the log-normal sigma put around a size with fewer than
// MinDurations recorded durations.
const DefaultNoise = 0.05

// MinDurations is how many recorded durations a size needs to be drawn
// from as is; below it each draw gets multiplicative log-normal noise.
const MinDurations = 3

// Prober answers the search's invocations from a curve: each invocation
// at a size returns one of the durations recorded there, drawn at random
// (with replacement). The first invocation at a size is marked cold, as
// the live prober's first call of a new probe copy is, so the search
// spends its budget as it does live; its duration is a recorded one (the
// curves hold run times without initialisation). A size that is not on
// the curve fails the probe. It is safe for concurrent use, and each size
// draws from its own stream, so a trial does not depend on scheduling.
type Prober struct {
	c     Curve
	noise float64
	seed  uint64

	mu      sync.Mutex
	streams map[int]*rand.Rand
	calls   int
}

// NewProber returns a probe session over c seeded with seed; noise is the
// log-normal sigma for sizes with fewer than MinDurations durations.
func NewProber(c Curve, noise float64, seed uint64) *Prober {
	return &Prober{c: c, noise: noise, seed: seed, streams: map[int]*rand.Rand{}}
}

// Invocations is how many invocations were answered.
func (p *Prober) Invocations() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// Probe implements search.Prober.
func (p *Prober) Probe(ctx context.Context, memoryMB, n int) ([]search.Observation, error) {
	i := sort.Search(len(p.c.Points), func(i int) bool { return p.c.Points[i].MemoryMB >= memoryMB })
	if i == len(p.c.Points) || p.c.Points[i].MemoryMB != memoryMB {
		return nil, fmt.Errorf("replay: %s has no measurements at %d MB", p.c.File, memoryMB)
	}
	ds := p.c.Points[i].Durations
	p.mu.Lock()
	defer p.mu.Unlock()
	r, seen := p.streams[memoryMB]
	if !seen {
		r = rand.New(rand.NewPCG(p.seed, uint64(memoryMB)))
		p.streams[memoryMB] = r
	}
	out := make([]search.Observation, 0, n)
	for k := 0; k < n; k++ {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("replay: %w", err)
		}
		p.calls++
		out = append(out, search.Observation{MemoryMB: memoryMB, Cold: !seen && k == 0,
			DurationMs: draw(r, ds, p.noise), Outcome: search.OK})
	}
	return out, nil
}

// draw picks one of ds at random, with log-normal noise when there are
// fewer than MinDurations of them.
func draw(r *rand.Rand, ds []float64, noise float64) float64 {
	d := ds[r.IntN(len(ds))]
	if len(ds) < MinDurations && noise > 0 {
		d *= math.Exp(noise * r.NormFloat64())
	}
	return d
}

// Options configure a replay.
type Options struct {
	Objective      search.Objective
	Tolerance      float64 // default 0.05
	MaxInvocations int     // default 15
	Trials         int     // default 20
	Seed           uint64
	Noise          float64 // default DefaultNoise; negative: none
}

func (o Options) withDefaults() Options {
	if o.Objective == "" {
		o.Objective = search.Cost
	}
	if o.Tolerance <= 0 {
		o.Tolerance = 0.05
	}
	if o.MaxInvocations <= 0 {
		o.MaxInvocations = 15
	}
	if o.Trials <= 0 {
		o.Trials = 20
	}
	if o.Noise == 0 {
		o.Noise = DefaultNoise
	}
	if o.Noise < 0 {
		o.Noise = 0
	}
	return o
}

// ParseObjective maps the CLI's names to the search's objectives:
// "duration" is min-resources (the fastest within the tolerance, and of
// those the smallest), the others are the search's own names.
func ParseObjective(s string) (search.Objective, error) {
	o, ok := search.ParseObjective(s)
	if !ok {
		return "", fmt.Errorf("replay: unknown objective %q (want cost, min-resources, duration or balanced)", s)
	}
	return o, nil
}

// Trial is one search over one curve.
type Trial struct {
	File        string `json:"file"`
	Trial       int    `json:"trial"`
	MemoryMB    int    `json:"memoryMB"`
	Invocations int    `json:"invocations"`
	// Predicted: the size was chosen by the knee fit, not measured.
	Predicted bool `json:"predicted,omitempty"`
	Settled   bool `json:"settled"`
	// Uncertain and RangeMB: the search's own statement that another
	// size in the range may be as good (search.Result).
	Uncertain bool   `json:"uncertain,omitempty"`
	RangeMB   [2]int `json:"rangeMB,omitzero"`
	CPUModel  string `json:"cpuModel,omitempty"`
	// Truth: the right answer on the curve's medians, the choice's
	// relative excess over it in the objective's measure, and whether it
	// is within the 5% the score allows (Judge).
	BestMB int     `json:"bestMB"`
	Regret float64 `json:"regret"`
	Within bool    `json:"within"`
}

// Seed of trial i of a run seeded with seed: the same for every file, so a
// file's trials do not depend on which other files are replayed.
func trialSeed(seed uint64, i int) uint64 { return seed + uint64(i)*7919 }

// Run searches each curve opts.Trials times, with the same search code
// path the live optimizer uses, and judges each choice. Trials of a curve
// run in order; curves run side by side (at most workers at once, 1 when
// workers <= 0).
func Run(ctx context.Context, curves []Curve, opts Options, workers int) ([][]Trial, error) {
	opts = opts.withDefaults()
	out := make([][]Trial, len(curves))
	errs := make([]error, len(curves))
	sem := make(chan struct{}, max(workers, 1))
	var wg sync.WaitGroup
	for ci, c := range curves {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[ci], errs[ci] = runCurve(ctx, c, opts)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func runCurve(ctx context.Context, c Curve, opts Options) ([]Trial, error) {
	tr := NewTruth(c, opts.Tolerance)
	cfg := search.Config{Candidates: c.Sizes(), Objective: opts.Objective, Tolerance: opts.Tolerance,
		MaxInvocations: opts.MaxInvocations}
	var out []Trial
	for i := 0; i < opts.Trials; i++ {
		pr := NewProber(c, opts.Noise, trialSeed(opts.Seed, i))
		res, err := search.Run(ctx, pr, cfg)
		if err != nil {
			return out, fmt.Errorf("replay: %s trial %d: %w", c.File, i, err)
		}
		t := Trial{File: c.File, Trial: i, MemoryMB: res.Decision.MemoryMB, Invocations: res.Invocations,
			Predicted: res.Decision.Predicted, Settled: res.Settled, Uncertain: res.Uncertain,
			RangeMB: res.RangeMB, CPUModel: string(res.CPUModel.Model), BestMB: tr.Best(opts.Objective)}
		t.Within, t.Regret = tr.Judge(opts.Objective, t.MemoryMB)
		out = append(out, t)
	}
	return out, nil
}
