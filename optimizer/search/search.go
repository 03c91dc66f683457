package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
)

// pstate is what the search knows about one size.
type pstate struct {
	mem     int
	feas    Feasibility
	failure Outcome
	msg     string
	cold    []Observation
	warm    []Observation
	errs    []Observation
	kept    []float64
	sum     Summary
	verdict string // fast, slow, ""
	settled bool
	d, se   float64 // log distance to the threshold and its standard error
	// timeouts counts timed-out invocations.
	timeouts int
	// coldOnly: no container was reused, cold runs measured instead.
	coldOnly bool
}

func (p *pstate) measured() bool { return p.feas == Feasible && p.sum.N > 0 }

// runs counts the runs after the first (cold) one: what the per-size caps
// bound.
func (p *pstate) runs() int { return len(p.warm) + max(len(p.cold)-1, 0) }

func (p *pstate) logMedian() float64 { return math.Log(math.Max(p.sum.MedianMs, 0.5)) }

// searcher runs one search.
type searcher struct {
	cfg  Config
	pr   Prober
	grid []int

	mu    sync.Mutex
	pts   map[int]*pstate
	steps []Step
	inv   int
	gbs   float64

	budgetOut  bool
	sigma      float64
	refMem     int
	refLog     float64
	refSE      float64
	nonHalving int
	prevWidth  float64
	prevU      int
	walkDown   int
	fit        kneeFit
	suspect    int     // a size left out of the fit as a probable outlier (0: none)
	tol        float64 // the tolerance the bracket aims at
	refFrom    int     // the smallest size pooled into the reference
}

// Run searches with prober p under cfg. An error is returned only when the
// search could not go on (ctx cancelled, the prober failing for reasons
// other than the budget); the result then holds what was measured.
func Run(ctx context.Context, p Prober, cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Candidates) == 0 {
		return Result{}, errors.New("search: no candidate memory sizes")
	}
	if !cfg.Objective.Valid() {
		return Result{}, fmt.Errorf("search: unknown objective %q", cfg.Objective)
	}
	grid := append([]int(nil), cfg.Candidates...)
	sort.Ints(grid)
	grid = uniq(grid)
	s := &searcher{cfg: cfg, pr: p, grid: grid, pts: map[int]*pstate{}, sigma: priorCV, tol: cfg.Tolerance}
	err := s.run(ctx)
	return s.result(), err
}

func uniq(xs []int) []int {
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func (s *searcher) run(ctx context.Context) error {
	lo, hi := s.grid[0], s.grid[len(s.grid)-1]
	// The reference (largest size) and the floor (smallest) first, side by
	// side: the one says how fast the action can be, the other whether the
	// smallest size already is fast enough or even feasible.
	reqs := []probeReq{{hi, refRuns, "reference: the largest size"}}
	if lo != hi {
		reqs = append(reqs, probeReq{lo, 2, "floor: the smallest size"})
	}
	if err := s.probeAll(ctx, reqs); err != nil {
		return err
	}
	s.update()
	if p := s.pts[hi]; p == nil || p.feas != Feasible {
		return nil // the largest size fails (or the budget allowed nothing): nothing is feasible
	}
	// Narrow the bracket on point estimates; once it is closed, sample
	// where the decision is still unsettled (which may reopen it).
	for !s.budgetOut {
		if err := ctx.Err(); err != nil {
			return err
		}
		if m, why := s.audit(); m > 0 && s.remaining() >= 1 {
			if err := s.probe(ctx, m, 1, why); err != nil {
				return err
			}
			s.update()
			continue
		}
		if s.floorSide() {
			break // cost or balanced fall with memory below the knee: the knee does not matter
		}
		L, U := s.bracket()
		if U != s.grid[0] && len(s.between(L, U)) > 0 {
			// A slow verdict resting on one sample that an outlier
			// could explain (within 3× of the threshold) is checked
			// before the search turns on it.
			if p := s.pts[L]; p != nil && p.measured() && p.sum.N == 1 && p.d < math.Log(3) && s.remaining() >= 3 && !s.fitAgrees(L) && !s.coldAgrees(L) {
				if err := s.probe(ctx, L, 1, fmt.Sprintf("confirm: is %d MB really too slow? one sample so far", L)); err != nil {
					return err
				}
				s.update()
				continue
			}
			if s.remaining() < 2 {
				s.budgetOut = true
				break
			}
			m, why := s.next(L, U)
			n := 2
			if s.fit.ok && !s.fit.misfit() {
				n = nearRuns // aimed by the fit: the decision rests on it
			}
			if err := s.probe(ctx, m, min(n, s.remaining()), why); err != nil {
				return err
			}
			s.update()
			continue
		}
		took, err := s.refine(ctx, L, U)
		if err != nil {
			return err
		}
		if !took {
			break
		}
	}
	if s.cfg.Objective != MinResources {
		if err := s.refineFloor(ctx); err != nil {
			return err
		}
		if err := s.probeFitPick(ctx); err != nil {
			return err
		}
		return s.refineLocal(ctx)
	}
	return nil
}

// floorSide reports, for cost and balanced, whether the fit says the
// smallest feasible size beats the knee by more than half the tolerance
// (time falls slower than memory^-1 for cost, memory^-½ for balanced, or
// a fixed part dominates), so the knee need not be found.
func (s *searcher) floorSide() bool {
	if s.cfg.Objective == MinResources {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fit.misfit() {
		return false
	}
	if s.fit.flat {
		return true
	}
	if !s.fit.ok {
		return false
	}
	// The fitted objective at the smallest size that may be feasible
	// against its value at the knee.
	lo := s.grid[0]
	if c := s.ceilingLocked(); c > 0 {
		if up := s.between(c, math.MaxInt); len(up) > 0 {
			lo = up[0]
		}
	}
	if float64(lo) >= s.fit.knee {
		return true
	}
	tk := math.Exp(s.fit.a)
	v := objectiveValue(s.cfg.Objective, lo, math.Exp(s.fit.logTime(float64(lo))))
	return v < objectiveValue(s.cfg.Objective, int(math.Round(s.fit.knee)), tk)*(1-s.cfg.Tolerance/2)
}

// tolAt is the slowdown the bracket accepts at size m. For min-resources
// it is the tolerance. For cost and balanced it is what one candidate step
// up buys (at least the tolerance): m·t beats m⁺·t∞ exactly when t is
// within m⁺/m of t∞, m·t² beats m⁺·t∞² when t is within √(m⁺/m), so on a
// knee the answer is the smallest size within that of the best. A finer
// bracket spends on a place the objective does not tell apart what the
// local refinement needs (replayed real curves: cost 81% to 84%).
func (s *searcher) tolAt(m int) float64 {
	if s.cfg.Objective == MinResources || len(s.grid) < 2 {
		return s.cfg.Tolerance
	}
	i := sort.SearchInts(s.grid, m)
	switch {
	case i >= len(s.grid)-1:
		i = len(s.grid) - 2
	case s.grid[i] != m && i > 0:
		i--
	}
	if s.cfg.Objective == Cost {
		return math.Max(s.cfg.Tolerance, float64(s.grid[i+1])/float64(s.grid[i])-1)
	}
	return math.Sqrt(float64(s.grid[i+1])/float64(s.grid[i])) - 1
}

// exponent is how the objective scales with memory where time ∝ m^-p:
// cost ∝ m^(1-p), balanced (time × cost) ∝ m^(1-2p).
func (s *searcher) exponent(p float64) float64 {
	if s.cfg.Objective == Balanced {
		return 1 - 2*p
	}
	return 1 - p
}

// fitAgrees reports whether a usable knee fit puts size m where it was
// measured (within 2.5 standard errors).
func (s *searcher) fitAgrees(m int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.fit.ok || s.fit.misfit() || s.suspect == m || s.fit.dfRes < 1 {
		return false // no fit, or one that passes exactly through its points: it confirms nothing
	}
	p := s.pts[m]
	return math.Abs(s.residualLocked(m)) <= 2.5*s.sigma*seFactor(p.sum.N)
}

// Runs of a first probe: the reference, and a size the knee fit aimed at.
var (
	refRuns  = 3
	nearRuns = 3
)

// remaining is the number of invocations left.
func (s *searcher) remaining() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.MaxInvocations - s.inv
}
