package search

import (
	"context"
	"fmt"
	"math"
)

// next picks the size to probe strictly between L and U. When L was
// measured, a power-law model t(m) = t(L)·(L/m)^p, with p from the two
// slowest measured sizes (1 when only L is: CPU in proportion to memory),
// predicts where the time crosses the threshold; otherwise, or when the
// model stopped halving the bracket twice in a row, it bisects (in log
// scale).
func (s *searcher) next(L, U int) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	width := 0.0
	lo := L
	if lo == 0 {
		lo = s.grid[0]
	}
	width = math.Log(float64(U) / float64(lo))
	if s.prevWidth > 0 && width > 0.55*s.prevWidth {
		s.nonHalving++
	} else {
		s.nonHalving = 0
	}
	s.prevWidth = width
	// Walking down from the top one size at a time means the model aims
	// too high (an outlier among its points, say): bisect instead.
	if s.prevU > 0 && U < s.prevU && len(s.between(U, s.prevU)) == 0 {
		s.walkDown++
	} else {
		s.walkDown = 0
	}
	s.prevU = U
	cands := s.between(L, U)
	if L == 0 {
		return s.grid[0], "floor again: no measurement there yet"
	}
	target := math.Sqrt(float64(L) * float64(U))
	why := fmt.Sprintf("bisect %d-%d MB", L, U)
	pl := s.pts[L]
	fitAimed := false
	if s.fit.ok && !s.fit.misfit() && s.walkDown < 2 {
		fitAimed = true
		target = s.fit.crossing(s.tol)
		why = fmt.Sprintf("knee fit: flat at %.0f ms from %.0f MB, %s below: within %.1f%% from %.0f MB",
			math.Exp(s.fit.a), s.fit.knee, s.fit.describe(), 100*s.tol, target)
	} else if pl.measured() && U == s.grid[len(s.grid)-1] && s.nonHalving < 2 {
		thr := math.Exp(s.refLog) * (1 + s.tol)
		p, from := 1.0, "assumed 1 (CPU share grows with memory)"
		if a := s.slowBelowLocked(L); a > 0 {
			ta, tl := s.pts[a].sum.MedianMs, pl.sum.MedianMs
			if ta > tl {
				p = clamp(math.Log(ta/tl)/math.Log(float64(L)/float64(a)), 0.25, 3)
				from = fmt.Sprintf("fitted on %d and %d MB", a, L)
			}
		}
		target = float64(L) * math.Pow(pl.sum.MedianMs/thr, 1/p)
		why = fmt.Sprintf("model: time ∝ memory^-%.2f (%s) reaches %.0f ms near %.0f MB", p, from, thr, target)
		if p == 1 {
			// The slope is a guess: memory pressure makes it steeper
			// and the crossing lower. Aim short, so the probe most
			// likely lands a second size below the knee, which the fit
			// needs to place it.
			target = float64(L) * math.Pow(pl.sum.MedianMs/thr, shortAim)
			why += fmt.Sprintf("; aim short at %.0f MB for the slope", target)
		}
	} else if s.nonHalving >= 2 || s.walkDown >= 2 {
		why += " (the model stopped halving the bracket)"
		s.nonHalving, s.walkDown = 0, 0
	}
	best, bd := cands[0], math.Inf(1)
	for _, m := range cands {
		if d := math.Abs(math.Log(float64(m) / target)); d < bd {
			best, bd = m, d
		}
	}
	if fitAimed && float64(best) >= target {
		// Just below the crossing: a size there, slow, pins the knee
		// from the side the fit knows least.
		for i := len(cands) - 1; i >= 0; i-- {
			if float64(cands[i]) < target {
				best = cands[i]
				break
			}
		}
	}
	return best, why
}

// shortAim is the share of the log distance to the crossing that a probe
// aimed with a guessed slope covers.
const shortAim = 0.8

// slowBelowLocked returns the largest measured slow size below m (0: none).
func (s *searcher) slowBelowLocked(m int) int {
	best := 0
	for k, p := range s.pts {
		if k < m && k > best && p.measured() && p.verdict == "slow" {
			best = k
		}
	}
	return best
}

// residualLocked is the log distance of size m's median from the fit.
func (s *searcher) residualLocked(m int) float64 {
	return s.pts[m].logMedian() - s.fit.logTime(float64(m))
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

// refine takes one more warm sample where the closed bracket's decision is
// unsettled: at U (is it really fast enough?) or L (really too slow?), or
// at the reference when its uncertainty weighs more. It reports whether it
// probed.
func (s *searcher) refine(ctx context.Context, L, U int) (bool, error) {
	// A sample that reopens the bracket needs a new size probed (two
	// invocations) to close it again: keep them.
	if s.remaining() < 3 {
		return false, nil
	}
	s.mu.Lock()
	var crit []*pstate
	if p := s.pts[U]; p != nil && U != s.refMem {
		crit = append(crit, p)
	}
	if p := s.pts[L]; p != nil && p.measured() {
		crit = append(crit, p)
	}
	// A lone sample far off the fit may be an outlier: look again.
	if s.fit.ok && !s.fit.misfit() {
		for _, m := range s.sortedLocked() {
			p := s.pts[m]
			if p.measured() && p.sum.N <= 2 && m != s.refMem && math.Abs(s.residualLocked(m)) > 3*s.sigma*seFactor(p.sum.N) {
				crit = append([]*pstate{p}, crit...)
				p.settled = false
				p.d = 0 // most at risk
			}
		}
	}
	ref := s.pts[s.refMem]
	target, why := 0, ""
	risk := -1.0
	for _, p := range crit {
		if p.settled {
			continue
		}
		canP := p.runs() < s.cfg.MaxWarm
		canRef := ref != nil && ref.runs() < s.cfg.MaxWarm+2
		if !canP && !canRef {
			continue
		}
		// The comparison most likely to be wrong goes first.
		if r := math.Abs(p.d) / math.Max(p.se, 1e-9); risk >= 0 && r >= risk {
			continue
		} else {
			risk = r
		}
		// Sample where one more run shrinks the variance of the
		// comparison most.
		gainP, gainRef := -1.0, -1.0
		if canP {
			gainP = sq(p.sum.LogSE) * (1 - sq(seFactor(p.sum.N+1)/seFactor(p.sum.N)))
		}
		if canRef {
			n := int(math.Round(sq(s.sigma / math.Max(s.refSE, 1e-9))))
			gainRef = sq(s.refSE) * (1 - sq(seFactor(n+1)/seFactor(max(n, 1))))
		}
		target = p.mem
		if gainRef > gainP {
			target = s.refMem
		}
		why = fmt.Sprintf("refine: %d MB is %+.1f%% from the threshold (±%.1f%%), not settled",
			p.mem, 100*math.Expm1(p.d), 100*s.cfg.Z*p.se)
	}
	s.mu.Unlock()
	if target == 0 {
		return false, nil
	}
	if s.remaining() < 1 {
		s.budgetOut = true
		return false, nil
	}
	if err := s.probe(ctx, target, 1, why); err != nil {
		return false, err
	}
	s.update()
	return true, nil
}

// refineFloor, for cost and balanced, looks below the smallest feasible
// size measured when something below the largest infeasible size might be
// cheaper: when the measured slope says the objective still falls with
// less memory by more than half the tolerance.
func (s *searcher) refineFloor(ctx context.Context) error {
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
		s.mu.Lock()
		I := s.ceilingLocked()
		F, G := 0, 0
		for _, m := range s.sortedLocked() {
			if p := s.pts[m]; m > I && p.measured() {
				if F == 0 {
					F = m
				} else if G == 0 {
					G = m
				}
			}
		}
		s.mu.Unlock()
		if I == 0 || F == 0 {
			return nil
		}
		cands := s.between(I, F)
		if len(cands) == 0 {
			return nil
		}
		p := 1.0
		switch {
		case s.fit.flat && !s.fit.misfit():
			p = 0
		case s.fit.ok && !s.fit.misfit() && float64(F) < s.fit.knee:
			p = s.fit.slope(float64(cands[0]))
		case G > 0:
			tf, tg := s.pts[F].sum.MedianMs, s.pts[G].sum.MedianMs
			p = math.Max(0, math.Log(tf/tg)/math.Log(float64(G)/float64(F)))
		}
		gain := math.Pow(float64(cands[0])/float64(F), s.exponent(p))
		if gain >= 1-s.cfg.Tolerance/2 {
			return nil
		}
		if s.remaining() < 2 {
			s.budgetOut = true
			return nil
		}
		target := math.Sqrt(float64(I) * float64(F))
		best, bd := cands[0], math.Inf(1)
		for _, m := range cands {
			if d := math.Abs(math.Log(float64(m) / target)); d < bd {
				best, bd = m, d
			}
		}
		why := fmt.Sprintf("floor: %s may fall %.0f%% below %d MB; bisect %d-%d MB", s.cfg.Objective, 100*(1-gain), F, I, F)
		if err := s.probe(ctx, best, 2, why); err != nil {
			return err
		}
		s.update()
	}
	return nil
}
