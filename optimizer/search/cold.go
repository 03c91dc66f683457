package search

import (
	"fmt"
	"math"
)

// Cold starts never enter the statistics (they carry the runtime's warm-up),
// but they are a second look at each size, free of charge: whatever a cold
// start adds to a run, it adds at every size, so the ratio of two sizes'
// cold runs tracks the ratio of their warm times. The search uses them to
// doubt or back up a size measured warm once and to tell a size whose
// cold starts time out, never to compare sizes.

// coldRunLog is the log of the run part (duration less initTime) of p's
// first cold start, when it was measured.
func coldRunLog(p *pstate) (float64, bool) {
	if p == nil || p.coldOnly || len(p.cold) == 0 || !p.cold[0].Outcome.Measured() {
		return 0, false
	}
	c := p.cold[0]
	return math.Log(math.Max(c.DurationMs-c.InitMs, 0.5)), true
}

// coldGapLocked is the median, over the measured sizes other than m, of
// how much slower (log) their cold start's run was than their warm median,
// and how many sizes that is: what a cold start adds.
func (s *searcher) coldGapLocked(m int) (float64, int) {
	var gaps []float64
	ceil := s.ceilingLocked()
	for k, p := range s.pts {
		if k != m && p.measured() && k > ceil {
			if c, ok := coldRunLog(p); ok {
				gaps = append(gaps, c-p.logMedian())
			}
		}
	}
	return median(gaps), len(gaps)
}

// coldSuspectLocked returns a size among ms measured warm once whose warm
// run was probably slowed (0: none), and why: it is slower, by more than 3
// standard errors, than its own cold start's run (a cold run is not faster
// than a warm one), or than its cold start's run less what a cold start
// adds at the other sizes. Another sample then decides, as the median of
// a single run cannot.
func (s *searcher) coldSuspectLocked(ms []int) (int, string) {
	for _, m := range ms {
		p := s.pts[m]
		if p.runs() >= s.capLocked(m) || p.sum.N > 1 {
			continue
		}
		c, ok := coldRunLog(p)
		if !ok {
			continue
		}
		se := math.Hypot(p.sum.LogSE, s.sigma)
		if z := (p.logMedian() - c) / se; z > 3 {
			return m, fmt.Sprintf("audit: %d MB measured %.0f ms warm, slower than its cold start's run (%.0f ms): sample again",
				m, p.sum.MedianMs, math.Exp(c))
		}
		gap, n := s.coldGapLocked(m)
		if n == 0 {
			continue
		}
		se = math.Sqrt(sq(p.sum.LogSE) + sq(s.sigma)*(2+1/float64(n)))
		if z := (p.logMedian() - (c - gap)) / se; z > 3 {
			return m, fmt.Sprintf("audit: %d MB measured %.0f ms warm, but its cold start says %.0f ms: sample again",
				m, p.sum.MedianMs, math.Exp(c-gap))
		}
	}
	return 0, ""
}

// coldAgrees reports whether size m's cold start confirms its slow warm
// run: less what a cold start adds elsewhere, it is slower than the
// reference by more than the threshold, with 95% confidence, which an
// outlier among the warm runs cannot fake.
func (s *searcher) coldAgrees(m int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := coldRunLog(s.pts[m])
	if !ok {
		return false
	}
	gap, n := s.coldGapLocked(m)
	if n == 0 {
		return false
	}
	se := math.Sqrt(sq(s.refSE) + sq(s.sigma)*(2+1/float64(n)))
	return c-gap-s.refLog-math.Log1p(s.tol) > s.cfg.Z*se
}

// coldTimeoutsLocked rules out a size whose cold start timed out when its
// warm median plus what a cold start adds elsewhere also exceeds the time
// limit (the duration the timed-out run was cut at): every new container
// there would time out, which is no use in production, however well the
// warm runs did. A cold timeout the other sizes do not explain stays a
// slow cold start or an outlier, as before.
func (s *searcher) coldTimeoutsLocked() {
	for m, p := range s.pts {
		if p.feas != Feasible || p.sum.N == 0 || len(p.cold) == 0 || p.cold[0].Outcome != Timeout {
			continue
		}
		c := p.cold[0]
		limit := c.DurationMs - c.InitMs
		gap, n := s.coldGapLocked(m)
		if n == 0 || limit <= 0 {
			continue
		}
		if cold := math.Exp(p.logMedian() + gap); cold > limit {
			p.feas, p.failure = Infeasible, Timeout
			p.msg = fmt.Sprintf("its cold starts time out: %.0f ms warm, about %.0f ms cold against a %.0f ms limit", p.sum.MedianMs, cold, limit)
		}
	}
}
