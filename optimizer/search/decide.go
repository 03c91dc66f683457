package search

import (
	"fmt"
	"math"
	"sort"
)

// result assembles the Result from the search state.
func (s *searcher) result() Result {
	s.update()
	r := Result{Objective: s.cfg.Objective, Tolerance: s.cfg.Tolerance, Noise: s.sigma}
	s.mu.Lock()
	r.Invocations, r.GBSeconds = s.inv, s.gbs
	for _, m := range s.sortedLocked() {
		r.Points = append(r.Points, s.pointLocked(m))
	}
	r.Steps = append([]Step(nil), s.steps...)
	if s.refMem > 0 {
		r.BestMs = math.Exp(s.refLog)
	}
	s.mu.Unlock()
	for _, o := range Objectives {
		d := s.decide(o)
		if o == s.cfg.Objective {
			r.Decision = d
		} else {
			r.Alternatives = append(r.Alternatives, d)
		}
	}
	L, U := s.bracket()
	r.Settled = s.settled(L, U) && (s.cfg.Objective == MinResources || !s.budgetOut)
	switch {
	case r.Decision.MemoryMB == 0:
		r.Settled, r.StopReason = true, "no feasible size"
	case r.Settled:
		r.StopReason = "settled"
	case s.budgetOut || s.remaining() < 3:
		r.StopReason = "budget exhausted before the decision settled: decided on point estimates"
	default:
		r.StopReason = "every size near the decision was sampled to its cap: decided on point estimates"
	}
	if lo, hi, u := s.plausibleRange(r.Decision); u {
		r.Uncertain, r.RangeMB = true, [2]int{lo, hi}
	}
	r.CPUModel = s.cpuModel()
	return r
}

func (s *searcher) pointLocked(m int) Point {
	p := s.pts[m]
	out := Point{MemoryMB: m, Feasibility: p.feas, Failure: p.failure, Message: p.msg,
		Cold: nonNil(p.cold), Warm: nonNil(p.warm), Errors: p.errs, Stats: p.sum,
		Verdict: p.verdict, Settled: p.settled, ColdOnly: p.coldOnly}
	if p.measured() {
		out.GBSeconds = GBSeconds(m, p.sum.MedianMs)
		if t, ok := s.fitTimeLocked(m); ok && m > s.ceilingLocked() && m != s.suspect {
			out.FitMs = t
		}
	} else {
		out.Verdict, out.Settled = "", false
	}
	return out
}

func nonNil(o []Observation) []Observation {
	if o == nil {
		return []Observation{}
	}
	return o
}

// settled reports whether the comparisons bracketing the decision cleared
// the confidence bound.
func (s *searcher) settled(L, U int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.pts[U]
	if u == nil || !u.measured() || !u.settled {
		return false
	}
	if U == s.grid[0] || L == 0 {
		return true
	}
	if l := s.pts[L]; l != nil && l.measured() {
		return l.settled
	}
	return len(s.between(L, U)) == 0
}

// fitTimeLocked is the knee fit's time at m, when the fit is usable.
func (s *searcher) fitTimeLocked(m int) (float64, bool) {
	switch {
	case s.fit.misfit():
		return 0, false
	case s.fit.flat, s.fit.ok:
		return math.Exp(s.fit.logTime(float64(m))), true
	}
	return 0, false
}

// minResourcesLocked applies min-resources' rule at the configured
// tolerance: with a usable knee fit, the smallest measured size at or above
// the fitted crossing; otherwise the smallest measured size within
// tolerance of the reference above every size that is not. pred is the
// fit's answer when it lies between measured sizes (unmeasured), else 0;
// slow is the measured size below the choice that is too slow (0: none).
func (s *searcher) minResourcesLocked(feas []int) (pick, pred, slow int) {
	tol := s.cfg.Tolerance
	if s.fit.ok && !s.fit.misfit() {
		c := s.fit.crossing(tol)
		for _, m := range feas {
			if float64(m) < c {
				slow = m
				continue
			}
			pick = m
			break
		}
		if pick == 0 {
			pick = feas[len(feas)-1]
		}
		if slow > 0 {
			for _, m := range s.between(slow, pick) {
				if float64(m) >= c {
					pred = m
					break
				}
			}
		}
		return pick, pred, slow
	}
	thr := s.refLog + math.Log1p(tol)
	for _, m := range feas {
		if p := s.pts[m]; p.logMedian() > thr && m < s.refFrom {
			slow = m
		}
	}
	for _, m := range feas {
		if m > slow {
			return m, 0, slow
		}
	}
	return feas[len(feas)-1], 0, slow
}

// decide picks the size for objective o from the measurements.
func (s *searcher) decide(o Objective) Decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := Decision{Objective: o}
	ceil := s.ceilingLocked()
	var feas []int
	for _, m := range s.sortedLocked() {
		if m > ceil && s.pts[m].measured() {
			feas = append(feas, m)
		}
	}
	if len(feas) == 0 {
		top := s.grid[len(s.grid)-1]
		if p := s.pts[top]; p != nil && p.feas == Infeasible {
			d.Why = fmt.Sprintf("no size is feasible: at %d MB, the largest, the action ends with %s (%s)", top, p.failure, p.msg)
		} else {
			d.Why = "no size was measured"
		}
		return d
	}
	best := math.Exp(s.refLog)
	pick, L, smoothed := 0, 0, false
	switch o {
	case MinResources:
		var pred int
		pick, pred, L = s.minResourcesLocked(feas)
		if pred > 0 && o == s.cfg.Objective {
			// The budget ran out with sizes between the slow and the
			// fast side unprobed: the knee fit says which of them is
			// the answer. It is feasible, being above a feasible size.
			d.MemoryMB, d.Predicted = pred, true
			d.MedianMs = math.Exp(s.fit.logTime(float64(pred)))
			d.GBSeconds = GBSeconds(pred, d.MedianMs)
			d.Why = fmt.Sprintf("%d MB is predicted by the knee fit (not measured: the budget ran out): the smallest size within %.0f%% of the best (%.0f ms)",
				pred, 100*s.cfg.Tolerance, best)
			return d
		}
	case Cost, Balanced:
		var bv float64
		pick, bv, smoothed = s.bestMeasuredLocked(o, feas)
		if m, t := s.fitPickLocked(o, feas, bv); m > 0 && o == s.cfg.Objective {
			d.MemoryMB, d.Predicted, d.MedianMs = m, true, t
			d.GBSeconds = GBSeconds(m, t)
			d.Why = fmt.Sprintf("%d MB is predicted by the knee fit (not measured: the budget ran out): %s by the fit, %.0f%% below %d MB, the best measured",
				m, objectiveNoun(o), 100*(1-objectiveValue(o, m, t)/bv), pick)
			return d
		}
	}
	p := s.pts[pick]
	d.MemoryMB, d.MedianMs, d.GBSeconds = pick, p.sum.MedianMs, GBSeconds(pick, p.sum.MedianMs)
	switch o {
	case MinResources:
		d.Why = fmt.Sprintf("%d MB is the smallest size whose median time (%.0f ms) is within %.0f%% of the best (%.0f ms at %d MB)",
			pick, p.sum.MedianMs, 100*s.cfg.Tolerance, best, s.refMem)
		if pick == s.grid[0] {
			d.Why += "; it is the smallest size allowed"
		} else if l := s.pts[L]; l != nil && L > 0 {
			if l.feas == Infeasible {
				d.Why += fmt.Sprintf("; %d MB fails (%s)", L, l.failure)
			} else if l.measured() {
				d.Why += fmt.Sprintf("; %d MB is %.1f%% slower than the best", L, 100*(l.sum.MedianMs/best-1))
			}
		}
	case Cost:
		d.Why = fmt.Sprintf("%d MB costs the least measured: %.6f GB-s per invocation (median %.0f ms)", pick, d.GBSeconds, p.sum.MedianMs)
	case Balanced:
		d.Why = fmt.Sprintf("%d MB has the smallest product of time and cost measured (%.0f ms, %.6f GB-s per invocation)",
			pick, p.sum.MedianMs, d.GBSeconds)
	}
	if smoothed && o != MinResources {
		d.Why += "; sizes compared on the knee fit through all measurements"
	}
	if ceil > 0 {
		d.Why += fmt.Sprintf("; sizes up to %d MB are infeasible (%s)", ceil, s.pts[ceil].failure)
	}
	return d
}

// Points summarises raw observations per memory size, as the search would
// (feasibility, robust statistics with pooled noise), without deciding:
// for showing a run in progress.
func Points(obs []Observation, tolerance float64) []Point {
	s := &searcher{cfg: Config{Tolerance: tolerance}.withDefaults(), pts: map[int]*pstate{}, sigma: priorCV}
	s.tol = s.cfg.Tolerance
	for _, o := range obs {
		p := s.pts[o.MemoryMB]
		if p == nil {
			p = &pstate{mem: o.MemoryMB, feas: Unknown}
			s.pts[o.MemoryMB] = p
			s.grid = append(s.grid, o.MemoryMB)
		}
		s.recordLocked(p, o)
	}
	sort.Ints(s.grid)
	s.update()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Point
	for _, m := range s.sortedLocked() {
		out = append(out, s.pointLocked(m))
	}
	return out
}
