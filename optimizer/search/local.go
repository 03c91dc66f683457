package search

import (
	"context"
	"fmt"
	"math"
)

// refineLocal, for cost and balanced, spends what is left of the budget
// around the best size measured: real curves are not smooth (a size can
// be cheaper than both its neighbours, a step can sit between two
// measured sizes), so an unmeasured candidate next to the best is
// probed, and then the best and its closest rival are sampled again
// while the two are not told apart.
func (s *searcher) refineLocal(ctx context.Context) error {
	for !s.budgetOut && s.remaining() >= 1 {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, n, why := s.nextLocal()
		if m == 0 || n > s.remaining() {
			return nil
		}
		if err := s.probe(ctx, m, n, why); err != nil {
			return err
		}
		s.update()
	}
	return nil
}

// nextLocal picks refineLocal's next probe: size, invocations, why (0:
// none).
func (s *searcher) nextLocal() (int, int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.cfg.Objective
	ceil := s.ceilingLocked()
	var feas []int
	for _, m := range s.sortedLocked() {
		if m > ceil && s.pts[m].measured() {
			feas = append(feas, m)
		}
	}
	if len(feas) == 0 {
		return 0, 0, ""
	}
	left := s.cfg.MaxInvocations - s.inv
	pick, _, _ := s.bestMeasuredLocked(o, feas)
	i := s.gridIndex(pick)
	for _, j := range []int{i - 1, i + 1} {
		if j < 0 || j >= len(s.grid) || s.grid[j] <= ceil {
			continue
		}
		if _, probed := s.pts[s.grid[j]]; !probed && left >= 2 {
			return s.grid[j], 2, fmt.Sprintf("local: %d MB is the best measured; try its neighbour %d MB", pick, s.grid[j])
		}
	}
	// The closest rival: the measured size whose value is nearest the
	// best's in standard errors.
	k := 1.0
	if o == Balanced {
		k = 2
	}
	lv := func(m int) float64 {
		p := s.pts[m]
		return math.Log(objectiveValue(o, m, p.sum.MedianMs))
	}
	bp := s.pts[pick]
	rival, rz := 0, s.cfg.Z
	for _, m := range feas {
		if m == pick {
			continue
		}
		p := s.pts[m]
		z := (lv(m) - lv(pick)) / (k * math.Hypot(p.sum.LogSE, bp.sum.LogSE))
		if z < rz {
			rival, rz = m, z
		}
	}
	if rival == 0 {
		return 0, 0, ""
	}
	target := pick
	if bp.runs() >= s.capLocked(pick) || (s.pts[rival].sum.N < bp.sum.N && s.pts[rival].runs() < s.capLocked(rival)) {
		target = rival
	}
	if s.pts[target].runs() >= s.capLocked(target) {
		return 0, 0, ""
	}
	return target, 1, fmt.Sprintf("local: %d and %d MB are not told apart yet (%.1f standard errors)", pick, rival, rz)
}
