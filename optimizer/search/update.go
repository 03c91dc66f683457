package search

import (
	"math"
	"sort"
)

// update recomputes the statistics, the reference and the verdicts.
func (s *searcher) update() {
	s.mu.Lock()
	defer s.mu.Unlock()
	mems := s.sortedLocked()
	// Noise: a first pass finds outliers against the prior, a second
	// pools the samples kept.
	var groups [][]float64
	for _, m := range mems {
		p := s.pts[m]
		if p.feas != Feasible {
			continue
		}
		p.sum, p.kept = summarize(warmDurations(p), priorCV)
		groups = append(groups, p.kept)
	}
	s.sigma = pooledSigma(groups)
	for _, m := range mems {
		if p := s.pts[m]; p.feas == Feasible {
			if xs := warmDurations(p); len(xs) > 0 {
				p.sum, p.kept = summarize(xs, s.sigma)
			}
		}
	}
	s.coldTimeoutsLocked()
	ceil := s.ceilingLocked()
	var ys, ws []float64
	var fm []int
	for _, m := range mems {
		if p := s.pts[m]; p.measured() && m > ceil {
			ys, ws, fm = append(ys, p.logMedian()), append(ws, 1/sq(seFactor(p.sum.N))), append(fm, m)
		}
	}
	if len(fm) == 0 {
		return
	}
	// The reference: every size on the flat part of the knee fit, pooled
	// (they all measure the best time); without a usable fit, the largest
	// size pooled with smaller ones that measured as fast or faster
	// (isotonic regression: time never grows with memory).
	s.fit = fitKnee(fm, ys, ws, s.sigma)
	s.suspect = 0
	if s.fit.misfit() {
		// One lone sample far off may be an outlier the audit has not
		// resolved yet: fit without the worst such size, and use that
		// fit when it is good.
		if i := s.worstSingleLocked(fm, ys, ws); i >= 0 {
			rm, ry, rw := dropAt(fm, i), dropAtF(ys, i), dropAtF(ws, i)
			if f := fitKnee(rm, ry, rw, s.sigma); (f.ok || f.flat) && !f.misfit() {
				s.fit, s.suspect = f, fm[i]
				fm, ys, ws = rm, ry, rw
			}
		}
	}
	from := len(fm) - 1
	switch {
	case s.fit.flat && !s.fit.misfit():
		from = 0
	case s.fit.ok && !s.fit.misfit():
		for from > 0 && float64(fm[from-1]) >= s.fit.knee {
			from--
		}
	default:
		fit, _ := isotonicDecreasing(ys, ws)
		for from > 0 && fit[from-1] == fit[len(fm)-1] {
			from--
		}
	}
	sy, sw := 0.0, 0.0
	for i := from; i < len(fm); i++ {
		sy += ws[i] * ys[i]
		sw += ws[i]
	}
	s.refMem, s.refLog, s.refFrom = fm[len(fm)-1], sy/sw, fm[from]
	s.refSE = math.Sqrt((s.sigma*s.sigma + sq(0.2887/math.Exp(s.refLog))) / sw)
	model := s.fit.ok && !s.fit.misfit()
	s.tol = s.cfg.Tolerance
	if model {
		s.tol = s.tolAt(int(math.Round(s.fit.knee)))
	}
	thr := s.refLog + math.Log1p(s.tol)
	var cx, clo, chi float64
	if model {
		cx = s.fit.crossing(s.tol)
		clo, chi = s.fit.crossingRange(s.tol)
	}
	for _, m := range fm {
		p := s.pts[m]
		p.d = p.logMedian() - thr
		p.se = math.Hypot(p.sum.LogSE, s.refSE)
		if m == s.refMem {
			p.d, p.se = -math.Log1p(s.tol), 0
		}
		switch {
		case model:
			// The fit pools every measurement: a size is fast enough
			// when it lies above the fitted crossing, settled when
			// every plausible crossing is on the same side.
			p.verdict = "fast"
			if float64(m) < cx {
				p.verdict = "slow"
			}
			p.settled = (float64(m) >= chi || float64(m) < s.gridBelow(clo)) && (p.sum.N >= 2 || m >= s.refFrom)
		default:
			p.verdict = "fast"
			if p.d > 0 && m < s.refFrom {
				p.verdict = "slow"
			}
			// One sample cannot be told from an outlier: it never settles.
			p.settled = math.Abs(p.d) >= s.cfg.Z*p.se && (p.verdict == "slow") == (p.d > 0) && p.sum.N >= 2
		}
	}
	if p := s.pts[s.suspect]; p != nil {
		p.verdict, p.settled = "", false // a probable outlier: the audit samples it again
	}
	for _, m := range mems {
		if p := s.pts[m]; m <= ceil && p.feas == Feasible {
			p.verdict, p.settled = "", false // below an infeasible size: taken as infeasible
		}
	}
}

func sq(x float64) float64 { return x * x }

// worstSingleLocked returns the index of the size measured once or twice
// whose leave-one-out residual is largest (at least 3 standard errors), or
// -1.
func (s *searcher) worstSingleLocked(ms []int, ys, ws []float64) int {
	worst, wz := -1, 3.0
	for i, m := range ms {
		p := s.pts[m]
		if p.sum.N > 2 || m == s.grid[len(s.grid)-1] {
			continue
		}
		r := looResidual(ms, ys, ws, i)
		if i == 0 && len(ms) > 1 {
			// The smallest size may be slower than the rest; judge it
			// against the slope the others show instead.
			continue
		}
		if z := math.Abs(r) / (s.sigma * seFactor(p.sum.N)); z > wz {
			worst, wz = i, z
		}
	}
	return worst
}

func dropAt(xs []int, i int) []int {
	return append(append([]int(nil), xs[:i]...), xs[i+1:]...)
}

func dropAtF(xs []float64, i int) []float64 {
	return append(append([]float64(nil), xs[:i]...), xs[i+1:]...)
}

// gridBelow is the largest candidate below x (0: none): a size under it is
// slow for every crossing at or above x.
func (s *searcher) gridBelow(x float64) float64 {
	b := 0.0
	for _, m := range s.grid {
		if float64(m) < x {
			b = float64(m)
		}
	}
	return b + 1
}

// warmDurations are the measurements of a size: its warm runs. Where the
// platform never kept a container (every run was cold: an invoker too
// small to hold the copy beside other work evicts it), the run part
// (duration less initTime) of the cold starts after the first stands in,
// and the point says so.
func warmDurations(p *pstate) []float64 {
	var xs []float64
	for _, o := range p.warm {
		if o.Outcome.Measured() {
			xs = append(xs, o.DurationMs)
		}
	}
	p.coldOnly = false
	if len(xs) == 0 && len(p.cold) >= 2 {
		for _, o := range p.cold[1:] {
			if o.Outcome.Measured() {
				xs = append(xs, math.Max(o.DurationMs-o.InitMs, 0.5))
			}
		}
		p.coldOnly = len(xs) > 0
	}
	return xs
}

func (s *searcher) sortedLocked() []int {
	mems := make([]int, 0, len(s.pts))
	for m := range s.pts {
		mems = append(mems, m)
	}
	sort.Ints(mems)
	return mems
}

// ceiling is the largest infeasible size probed (0: none): every size up
// to it is taken as infeasible.
func (s *searcher) ceilingLocked() int {
	c := 0
	for m, p := range s.pts {
		if p.feas == Infeasible && m > c {
			c = m
		}
	}
	return c
}

// bracket returns L, the largest size known to be too slow or infeasible
// (0: none), and U, the smallest size above L known to be fast enough.
func (s *searcher) bracket() (L, U int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	L = s.ceilingLocked()
	for m, p := range s.pts {
		if p.measured() && p.verdict == "slow" && m > L {
			L = m
		}
	}
	for _, m := range s.sortedLocked() {
		p := s.pts[m]
		if m > L && p.measured() && p.verdict == "fast" {
			return L, m
		}
	}
	return L, s.grid[len(s.grid)-1]
}

// between lists the candidates strictly between a and b.
func (s *searcher) between(a, b int) []int {
	var out []int
	for _, m := range s.grid {
		if m > a && m < b {
			out = append(out, m)
		}
	}
	return out
}
