package search

import (
	"fmt"
	"math"
)

// audit looks for a measurement that is probably an outlier: a size with
// one or two samples far (over 3 standard errors) from what the others
// say: from the knee fit when there is one, from the isotonic
// (non-increasing) fit otherwise. It returns the size to sample again (0:
// none). Every outlier caught this way costs one invocation instead of a
// wrong turn of the search.
func (s *searcher) audit() (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ceil := s.ceilingLocked()
	var ms []int
	var ys, ws []float64
	for _, m := range s.sortedLocked() {
		if p := s.pts[m]; m > ceil && p.measured() {
			ms, ys, ws = append(ms, m), append(ys, p.logMedian()), append(ws, 1/sq(seFactor(p.sum.N)))
		}
	}
	if m, why := s.coldSuspectLocked(ms); m > 0 {
		return m, why
	}
	// Three or more samples that disagree far beyond the noise: two of
	// them may be slowed, and the median is one of those; more samples
	// give the clean ones the majority.
	for _, m := range ms {
		p := s.pts[m]
		if len(p.kept) < 3 || p.runs() >= s.capLocked(m) {
			continue
		}
		if l := localSigma(p.kept); l > 3*math.Max(s.sigma, 0.01) {
			return m, fmt.Sprintf("audit: %d MB's %d samples spread %.0f%%, over 3 times the noise: sample again", m, len(p.kept), 100*l)
		}
	}
	if len(ms) < 3 {
		return 0, ""
	}
	// Residuals against what the other sizes say: the knee fit, or the
	// isotonic fit of the others interpolated (leave one out).
	var res []float64
	useFit := (s.fit.ok || s.fit.flat) && !s.fit.misfit()
	for i, m := range ms {
		if useFit {
			res = append(res, ys[i]-s.fit.logTime(float64(m)))
			continue
		}
		res = append(res, looResidual(ms, ys, ws, i))
	}
	worst, wz := 0, 3.0
	for i, m := range ms {
		p := s.pts[m]
		if p.sum.N > 2 || p.runs() >= s.cfg.MaxWarm {
			continue
		}
		z := math.Abs(res[i]) / (s.sigma * seFactor(p.sum.N))
		// Two samples far apart: their mean says little; a third decides.
		if len(p.kept) == 2 {
			z = math.Max(z, math.Abs(math.Log(p.kept[0]/p.kept[1]))/(s.sigma*math.Sqrt2))
		}
		if z > wz {
			worst, wz = m, z
		}
	}
	if worst == 0 {
		return 0, ""
	}
	return worst, fmt.Sprintf("audit: %d MB measured %.0f ms, %.1f standard errors off the others: sample again", worst, s.pts[worst].sum.MedianMs, wz)
}

// capLocked is how many runs size m may get: the reference two more.
func (s *searcher) capLocked(m int) int {
	if m == s.grid[len(s.grid)-1] {
		return s.cfg.MaxWarm + 2
	}
	return s.cfg.MaxWarm
}

// looResidual measures how far ys[i] breaks the rule that time never
// grows with memory, against the isotonic fit of the other points: by how
// much it is slower than a smaller size, or faster than a larger one (0
// when it is between them).
func looResidual(ms []int, ys, ws []float64, i int) float64 {
	var oy, ow []float64
	var om []int
	for j := range ms {
		if j != i {
			om, oy, ow = append(om, ms[j]), append(oy, ys[j]), append(ow, ws[j])
		}
	}
	fit, _ := isotonicDecreasing(oy, ow)
	k := sortSearch(om, ms[i])
	r := 0.0
	if k > 0 && ys[i] > fit[k-1] {
		r = ys[i] - fit[k-1] // slower than the next smaller size
	}
	if k < len(om) && ys[i] < fit[k] {
		r = ys[i] - fit[k] // faster than the next larger size
	}
	return r
}

// sortSearch is the index of the first element of ascending xs above x.
func sortSearch(xs []int, x int) int {
	for k, v := range xs {
		if v > x {
			return k
		}
	}
	return len(xs)
}
