package search

import (
	"context"
	"fmt"
	"math"
)

// objectiveValue is what objective o minimises for time t (ms) at m MB:
// GB-seconds for cost, GB-seconds × seconds for balanced.
func objectiveValue(o Objective, m int, t float64) float64 {
	v := GBSeconds(m, t)
	if o == Balanced {
		v *= t / 1000
	}
	return v
}

// objectiveNoun names what objective o compares.
func objectiveNoun(o Objective) string {
	if o == Balanced {
		return "the smallest product of time and cost"
	}
	return "the cheapest"
}

// fitPickLocked is, for cost or balanced, the size the knee fit prefers
// when it was not measured (the budget ran out first) and the fit says it
// beats bv, the best measured value, by more than half the tolerance: a
// candidate between the smallest and the largest feasible size measured
// (so feasible itself). It returns the size and its fitted time, or 0.
func (s *searcher) fitPickLocked(o Objective, feas []int, bv float64) (int, float64) {
	if !s.fit.ok || s.fit.misfit() || len(feas) < 2 {
		return 0, 0
	}
	best, bt, pv := 0, 0.0, bv*(1-s.cfg.Tolerance/2)
	for _, m := range s.between(feas[0], feas[len(feas)-1]) {
		if p := s.pts[m]; p != nil {
			continue // probed: measured (and compared already) or not feasible
		}
		t := math.Exp(s.fit.logTime(float64(m)))
		if v := objectiveValue(o, m, t); v < pv {
			best, bt, pv = m, t, v
		}
	}
	return best, bt
}

// bestMeasuredLocked is, for cost or balanced, the measured feasible size
// (of feas) with the smallest value and that value: compared on the
// medians, or on the knee fit's times for sizes with fewer than three
// samples that the fit agrees with (smoothed reports it).
func (s *searcher) bestMeasuredLocked(o Objective, feas []int) (pick int, bv float64, smoothed bool) {
	bv = math.Inf(1)
	for _, m := range feas {
		t := s.pts[m].sum.MedianMs
		// The fit stands in for a median of one or two samples that it
		// agrees with (within two standard errors); a median of three
		// or more, or one the fit misses (real curves have steps and
		// points off any smooth shape), speaks for itself.
		if ft, ok := s.fitTimeLocked(m); ok && s.pts[m].sum.N < 3 && math.Abs(math.Log(t/ft)) <= 2*s.sigma*seFactor(s.pts[m].sum.N) {
			t, smoothed = ft, true
		}
		if v := objectiveValue(o, m, t); v < bv {
			pick, bv = m, v
		}
	}
	return pick, bv, smoothed
}

// probeFitPick, for cost and balanced, probes the size the knee fit
// prefers over every measured one while it is not measured and the
// budget allows.
func (s *searcher) probeFitPick(ctx context.Context) error {
	for !s.budgetOut && s.remaining() >= 2 {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.Lock()
		ceil := s.ceilingLocked()
		var feas []int
		for _, m := range s.sortedLocked() {
			if m > ceil && s.pts[m].measured() {
				feas = append(feas, m)
			}
		}
		pick, bv, _ := s.bestMeasuredLocked(s.cfg.Objective, feas)
		m, _ := s.fitPickLocked(s.cfg.Objective, feas, bv)
		s.mu.Unlock()
		if m == 0 {
			return nil
		}
		if err := s.probe(ctx, m, nearRuns, fmt.Sprintf("fit: %d MB should beat %d MB, the best measured", m, pick)); err != nil {
			return err
		}
		s.update()
	}
	return nil
}
