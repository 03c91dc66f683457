// Package search is the Fn Best Env Selector and the statistics of the Fn
// Exec Analyzer: an adaptive search over an action's memory size that asks
// a Prober for invocations one setting at a time and stops as soon as the
// decision is statistically settled (or the budget is spent).
//
// The search assumes that an action never gets slower with more memory
// (OpenWhisk gives CPU in proportion to memory) and that an action that
// fails for lack of memory or time at some size fails at every smaller
// size. Within those assumptions it brackets the answer: every probe either
// moves the smallest size known to be fast enough down, or the largest size
// known to be too slow (or infeasible) up, and the next size is picked from
// a knee model of the measured points (below the knee a power law, or a
// fixed part plus one in inverse proportion to memory; bisection when the
// model has no slope to go on). Cold starts are recorded apart and never
// enter the warm statistics: they only serve to doubt a lone warm run and
// to rule out a size whose cold starts time out. See docs/optimizer.md for
// the method.
//
// Nothing here does I/O: the package is driven by its Prober, which is safe
// to fake (optimizer/sim does).
package search

import (
	"context"
	"errors"
	"math"
)

// Outcome classifies one invocation.
type Outcome string

// Outcomes. OOM, Timeout and InitFailure mean "infeasible at this setting";
// OK and AppError are measurements; SystemError is neither (the platform
// failed: excluded from the statistics).
const (
	OK          Outcome = "ok"
	AppError    Outcome = "application-error"
	OOM         Outcome = "out-of-memory"
	Timeout     Outcome = "timeout"
	InitFailure Outcome = "init-failure"
	SystemError Outcome = "system-error"
)

// Infeasible reports whether o rules the setting out.
func (o Outcome) Infeasible() bool { return o == OOM || o == Timeout || o == InitFailure }

// Measured reports whether the invocation's duration is a measurement.
func (o Outcome) Measured() bool { return o == OK || o == AppError }

// Observation is one invocation of a probe.
type Observation struct {
	MemoryMB     int     `json:"memoryMB"`
	Payload      int     `json:"payload"`
	Cold         bool    `json:"cold"`
	DurationMs   float64 `json:"durationMs"`
	InitMs       float64 `json:"initMs,omitempty"`
	WaitMs       float64 `json:"waitMs,omitempty"`
	Outcome      Outcome `json:"outcome"`
	Message      string  `json:"message,omitempty"`
	ActivationID string  `json:"activationId,omitempty"`
}

// GBSeconds is what the invocation is billed: memory in GB times its
// duration (rounded up to the millisecond).
func (o Observation) GBSeconds() float64 {
	return GBSeconds(o.MemoryMB, o.DurationMs)
}

// GBSeconds of one invocation of durationMs at memoryMB.
func GBSeconds(memoryMB int, durationMs float64) float64 {
	return float64(memoryMB) / 1024 * math.Ceil(math.Max(durationMs, 0)) / 1000
}

// Prober runs invocations of the action under test at a memory size.
//
// Probe runs up to n invocations at memoryMB one after another (the first
// at a size not probed before is a cold start) and returns what it saw. It
// stops early after an infeasible outcome. It must be safe for concurrent
// calls at different memory sizes. An error means the probe could not be
// run at all (ctx cancelled, budget refused, platform down); observations
// made before it are returned with it.
type Prober interface {
	Probe(ctx context.Context, memoryMB, n int) ([]Observation, error)
}

// ErrBudget is returned by a Prober that refuses an invocation because the
// run's budget is spent; the search then decides with what it has.
var ErrBudget = errors.New("search: budget exhausted")

// Objective is what the search optimises.
type Objective string

// Objectives.
const (
	// MinResources: the smallest memory whose median time is within
	// Tolerance of the best.
	MinResources Objective = "min-resources"
	// Cost: the smallest GB-seconds per invocation.
	Cost Objective = "cost"
	// Balanced: the smallest product of time and GB-seconds (the
	// geometric mean of the two, each relative to its best), so a 10%
	// slowdown is worth a 10% saving.
	Balanced Objective = "balanced"
)

// Objectives lists the objectives in a fixed order.
var Objectives = []Objective{MinResources, Cost, Balanced}

// Valid reports whether o is known.
func (o Objective) Valid() bool { return o == MinResources || o == Cost || o == Balanced }

// DurationAlias is another name of MinResources that users give (SPEC
// section 7's `--objective duration`): the fastest within the tolerance,
// and of those the smallest.
const DurationAlias = "duration"

// ParseObjective maps a name users give to an objective: the objectives'
// own names, and DurationAlias for MinResources. ok is false for any
// other name.
func ParseObjective(s string) (o Objective, ok bool) {
	if s == DurationAlias {
		return MinResources, true
	}
	o = Objective(s)
	return o, o.Valid()
}

// Config configures a search.
type Config struct {
	// Candidates are the memory sizes (MB) the search may choose from,
	// ascending, at least one.
	Candidates []int
	Objective  Objective
	// Tolerance is min-resources' allowed slowdown (default 0.05).
	Tolerance float64
	// MaxInvocations bounds the invocations (default 15).
	MaxInvocations int
	// MaxGBSeconds bounds the GB-seconds spent (0: no bound).
	MaxGBSeconds float64
	// TimeoutMs is the action's time limit, used to predict what a probe
	// may cost (default 60000).
	TimeoutMs int
	// Concurrency bounds simultaneous probes at different sizes (default 2).
	Concurrency int
	// Z is the one-sided normal quantile a comparison must clear to count
	// as settled (default 1.645, 95%).
	Z float64
	// MaxWarm caps the warm samples at one size (default 5; the reference
	// size gets two more).
	MaxWarm int
	// Progress, when set, is called after each probe with the invocations
	// done and the invocation budget.
	Progress func(done, total int)
}

func (c Config) withDefaults() Config {
	if c.Tolerance <= 0 {
		c.Tolerance = 0.05
	}
	if c.MaxInvocations <= 0 {
		c.MaxInvocations = 15
	}
	if c.TimeoutMs <= 0 {
		c.TimeoutMs = 60000
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 2
	}
	if c.Z <= 0 {
		c.Z = 1.645
	}
	if c.MaxWarm <= 0 {
		c.MaxWarm = 5
	}
	if c.Objective == "" {
		c.Objective = MinResources
	}
	return c
}

// Feasibility of a probed size.
type Feasibility string

// Feasibility values.
const (
	Unknown    Feasibility = "unknown"
	Feasible   Feasibility = "feasible"
	Infeasible Feasibility = "infeasible"
)

// Point is everything known about one memory size.
type Point struct {
	MemoryMB    int           `json:"memoryMB"`
	Feasibility Feasibility   `json:"feasibility"`
	Failure     Outcome       `json:"failure,omitempty"`
	Message     string        `json:"message,omitempty"`
	Cold        []Observation `json:"cold"`
	Warm        []Observation `json:"warm"`
	Errors      []Observation `json:"errors,omitempty"` // system errors
	Stats       Summary       `json:"stats"`
	// GBSeconds is the median warm cost of one invocation.
	GBSeconds float64 `json:"gbSeconds,omitempty"`
	// FitMs is the knee fit's time at this size (when there is a usable
	// fit): cost and balanced compare sizes on it.
	FitMs float64 `json:"fitMs,omitempty"`
	// Verdict is "fast" or "slow" against min-resources' threshold
	// (empty when infeasible or unmeasured) and Settled whether the
	// comparison cleared the confidence bound.
	Verdict string `json:"verdict,omitempty"`
	Settled bool   `json:"settled,omitempty"`
	// ColdOnly is set when no run at this size was warm (the platform
	// made a new container every time) and the run time of cold starts
	// after the first was measured instead.
	ColdOnly bool `json:"coldOnly,omitempty"`
}

// Step is one probe of the search, with why it was made.
type Step struct {
	MemoryMB    int    `json:"memoryMB"`
	Invocations int    `json:"invocations"`
	Why         string `json:"why"`
}

// Decision is the choice for one objective.
type Decision struct {
	Objective Objective `json:"objective"`
	MemoryMB  int       `json:"memoryMB"` // 0: nothing feasible
	// MedianMs and GBSeconds are the chosen size's measured median time
	// and cost per invocation.
	MedianMs  float64 `json:"medianMs,omitempty"`
	GBSeconds float64 `json:"gbSeconds,omitempty"`
	// Predicted is true when the size was not measured: the budget ran out
	// and the knee fit chose it (MedianMs is then the fit's).
	Predicted bool   `json:"predicted,omitempty"`
	Why       string `json:"why"`
}

// Result is the outcome of a search.
type Result struct {
	Objective Objective `json:"objective"`
	Tolerance float64   `json:"tolerance"`
	// Decision is the choice for Objective; Alternatives what the same
	// measurements say for the other objectives.
	Decision     Decision   `json:"decision"`
	Alternatives []Decision `json:"alternatives,omitempty"`
	Points       []Point    `json:"points"`
	Steps        []Step     `json:"steps"`
	// BestMs is the reference (fastest) median time.
	BestMs float64 `json:"bestMs,omitempty"`
	// Noise is the pooled coefficient of variation of warm durations.
	Noise float64 `json:"noise"`
	// Settled is true when every comparison the decision rests on cleared
	// the confidence bound; false when the budget ran out first.
	Settled     bool    `json:"settled"`
	StopReason  string  `json:"stopReason"`
	Invocations int     `json:"invocations"`
	GBSeconds   float64 `json:"gbSeconds"`
	// Uncertain is set when another run on the same action could well
	// choose a size two candidate steps or more from Decision: RangeMB
	// is then the range of sizes the measurements do not tell apart.
	Uncertain bool   `json:"uncertain,omitempty"`
	RangeMB   [2]int `json:"rangeMB,omitzero"`
	// CPUModel is how the deployment gives CPU, as the probes show it.
	CPUModel CPUModel `json:"cpuModel"`
}
