package sim

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/fnmgr/fnmgr/optimizer/score"
	"github.com/fnmgr/fnmgr/optimizer/search"
)

// Score sums up many trials of one method on one function and objective.
type Score struct {
	Method    string
	Function  string
	Objective search.Objective
	Trials    int
	// Invocations and GBSeconds are per decision (mean), MaxInvocations
	// the most one decision took.
	Invocations    float64
	MaxInvocations int
	GBSeconds      float64
	// Success is the share of trials whose choice Judge accepts; Regret
	// the mean regret of the trials that did not abort.
	Success float64
	Regret  float64
	// Aborted counts runs that ended without a decision.
	Aborted int
	// Settled is the share of searches that settled within the budget.
	Settled float64
}

// Evaluate runs the adaptive search trials times on f (cfg.Candidates is
// the grid, cfg.Objective the objective) and scores it.
func Evaluate(ctx context.Context, f Function, cfg search.Config, trials int, seed uint64) (Score, error) {
	tol := cfg.Tolerance
	if tol <= 0 {
		tol = 0.05
	}
	tr := f.Truth(cfg.Candidates, tol)
	sc := Score{Method: "adaptive", Function: f.Name, Objective: cfg.Objective, Trials: trials}
	var regrets []float64
	for i := 0; i < trials; i++ {
		a := NewAction(f, seed+uint64(i)*7919)
		res, err := search.Run(ctx, a, cfg)
		if err != nil {
			return sc, fmt.Errorf("sim: %s trial %d: %w", f.Name, i, err)
		}
		sc.Invocations += float64(res.Invocations)
		sc.MaxInvocations = max(sc.MaxInvocations, res.Invocations)
		sc.GBSeconds += res.GBSeconds
		if res.Settled {
			sc.Settled++
		}
		if res.Decision.MemoryMB == 0 {
			sc.Aborted++
			continue
		}
		ok, reg := tr.Judge(cfg.Objective, res.Decision.MemoryMB)
		if ok {
			sc.Success++
		}
		regrets = append(regrets, reg)
	}
	return finish(sc, regrets), nil
}

func finish(sc Score, regrets []float64) Score {
	n := float64(sc.Trials)
	sc.Invocations /= n
	sc.GBSeconds /= n
	sc.Success /= n
	sc.Settled /= n
	for _, r := range regrets {
		if math.IsInf(r, 1) {
			r = 1 // an infeasible choice counts as 100% regret in the mean
		}
		sc.Regret += r
	}
	if len(regrets) > 0 {
		sc.Regret /= float64(len(regrets))
	}
	return sc
}

// PowerTuningValues are AWS Lambda Power Tuning's default power values
// fitted into grid: 128, 256, 512, 1024, 1536 and the largest size.
func PowerTuningValues(grid []int) []int {
	var out []int
	for _, v := range []int{128, 256, 512, 1024, 1536, grid[len(grid)-1]} {
		if v >= grid[0] && v <= grid[len(grid)-1] && (len(out) == 0 || out[len(out)-1] != v) {
			out = append(out, v)
		}
	}
	return out
}

// EvaluateGrid runs an exhaustive Power Tuning-style grid trials times:
// num invocations at each of values (the first cold), a 20% trimmed mean
// of their durations, and the objective's rule applied to the means. Like
// Power Tuning, a run in which any invocation fails is aborted ("grid");
// the second score ("grid, failures skipped") drops failed sizes instead.
func EvaluateGrid(f Function, grid, values []int, o search.Objective, tol float64, num, trials int, seed uint64) (abortOnError, skipFailures Score) {
	tr := f.Truth(grid, tol)
	a := Score{Method: "power-tuning grid", Function: f.Name, Objective: o, Trials: trials}
	b := Score{Method: "grid, failures skipped", Function: f.Name, Objective: o, Trials: trials}
	var ra, rb []float64
	for i := 0; i < trials; i++ {
		r := rand.New(rand.NewPCG(seed+uint64(i)*7919, 1))
		means := map[int]float64{}
		failed := false
		inv, gbs := 0, 0.0
		for _, m := range values {
			var ds []float64
			bad := false
			for k := 0; k < num; k++ {
				obs := f.Sample(r, m, k == 0)
				inv++
				gbs += obs.GBSeconds()
				if obs.Outcome.Infeasible() {
					bad = true
					continue
				}
				ds = append(ds, obs.DurationMs-obs.InitMs)
			}
			if bad {
				failed = true
				continue
			}
			means[m] = score.TrimmedMean(ds, 0.2)
		}
		for _, s := range []*Score{&a, &b} {
			s.Invocations += float64(inv)
			s.MaxInvocations = max(s.MaxInvocations, inv)
			s.GBSeconds += gbs
			s.Settled++
		}
		choice := score.GridChoice(means, o, tol)
		okB, regB := tr.Judge(o, choice)
		if choice == 0 {
			b.Aborted++
		} else {
			rb = append(rb, regB)
			if okB {
				b.Success++
			}
		}
		if failed {
			a.Aborted++
			continue
		}
		ra = append(ra, regB)
		if okB {
			a.Success++
		}
	}
	return finish(a, ra), finish(b, rb)
}

// WriteTable prints scores as a Markdown table.
func WriteTable(w io.Writer, scores []Score) {
	fmt.Fprintln(w, "| function | objective | method | invocations/decision (max) | GB-s/decision | success | mean regret | aborted | settled |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, s := range scores {
		fmt.Fprintf(w, "| %s | %s | %s | %.1f (%d) | %.2f | %.1f%% | %.1f%% | %d/%d | %.0f%% |\n",
			s.Function, s.Objective, s.Method, s.Invocations, s.MaxInvocations, s.GBSeconds,
			100*s.Success, 100*s.Regret, s.Aborted, s.Trials, 100*s.Settled)
	}
}

// Label is a short name for a score row.
func (s Score) Label() string {
	return strings.ReplaceAll(fmt.Sprintf("%s/%s/%s", s.Function, s.Objective, s.Method), " ", "-")
}

// Suite runs scored per function and objective: the adaptive search and
// the two grid baselines.
type SuiteScores struct {
	Adaptive, Grid, GridSkip []Score
}

// EvaluateSuite scores the adaptive search (default budget: 15
// invocations) and the Power Tuning-style grid (6 sizes × 10 invocations)
// on every function of Suite and every objective, over the grid of sizes
// 128 to 3072 MB, trials times each.
func EvaluateSuite(ctx context.Context, trials int, seed uint64) (SuiteScores, error) {
	var out SuiteScores
	grid := Grid(128, 3072)
	for _, f := range Suite() {
		for _, o := range search.Objectives {
			sc, err := Evaluate(ctx, f, search.Config{Candidates: grid, Objective: o}, trials, seed)
			if err != nil {
				return out, err
			}
			a, b := EvaluateGrid(f, grid, PowerTuningValues(grid), o, 0.05, 10, trials, seed)
			out.Adaptive, out.Grid, out.GridSkip = append(out.Adaptive, sc), append(out.Grid, a), append(out.GridSkip, b)
		}
	}
	return out, nil
}

// Overall sums scores into one: mean invocations and GB-s per decision,
// the largest invocations, success share, aborted runs.
func Overall(scores []Score) Score {
	var o Score
	if len(scores) == 0 {
		return o
	}
	o.Method, o.Function, o.Objective = scores[0].Method, "all", "all"
	n := 0.0
	for _, s := range scores {
		w := float64(s.Trials)
		o.Trials += s.Trials
		o.Invocations += s.Invocations * w
		o.GBSeconds += s.GBSeconds * w
		o.Success += s.Success * w
		o.Regret += s.Regret * w
		o.Settled += s.Settled * w
		o.Aborted += s.Aborted
		o.MaxInvocations = max(o.MaxInvocations, s.MaxInvocations)
		n += w
	}
	o.Invocations /= n
	o.GBSeconds /= n
	o.Success /= n
	o.Regret /= n
	o.Settled /= n
	return o
}
