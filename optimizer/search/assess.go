package search

import (
	"fmt"
	"math"
	"sort"
)

// CPU models the search can observe.
const (
	// CPUQuota: duration falls with memory, as it does where CPU is
	// capped in proportion to memory: OpenWhisk's --cpus when
	// container-pool.user-cpus is set (ContainerPoolConfig.cpuLimit,
	// common/scala/src/main/scala/org/apache/openwhisk/core/containerpool/ContainerFactory.scala),
	// and the local invoker.
	CPUQuota = "quota"
	// CPUShares: the smallest size is as fast as the largest, as it is on
	// an idle invoker under --cpu-shares, OpenWhisk's default
	// (ContainerPoolConfig.cpuShare, same file, passed by
	// core/invoker/src/main/scala/org/apache/openwhisk/core/containerpool/docker/DockerContainer.scala;
	// shares only weigh under contention).
	CPUShares = "shares"
	// CPUUnknown: too little evidence either way.
	CPUUnknown = "unknown"
)

// CPUModel is what the probes say about how the deployment gives CPU.
type CPUModel struct {
	Model string `json:"model"`
	// Evidence is the comparison the model rests on.
	Evidence string `json:"evidence"`
	// FloorMB and ReferenceMB are the sizes compared, SlowdownPct how much
	// slower the floor is (median against the reference).
	FloorMB     int     `json:"floorMB,omitempty"`
	ReferenceMB int     `json:"referenceMB,omitempty"`
	SlowdownPct float64 `json:"slowdownPct"`
	// Note says what the model means for the recommendation.
	Note string `json:"note,omitempty"`
}

// cpuModel compares the smallest feasible size measured with the
// reference: slower by over 15% and past the confidence bound is quota;
// under 15% and not past the tolerance by the confidence bound, over sizes
// at least twice apart, is shares; anything else unknown.
func (s *searcher) cpuModel() CPUModel {
	s.mu.Lock()
	defer s.mu.Unlock()
	ceil := s.ceilingLocked()
	floor := 0
	for _, m := range s.sortedLocked() {
		if p := s.pts[m]; m > ceil && p.measured() && m != s.suspect {
			floor = m
			break
		}
	}
	if floor == 0 || s.refMem == 0 || floor >= s.refMem {
		return CPUModel{Model: CPUUnknown, Evidence: "fewer than two feasible sizes were measured"}
	}
	p := s.pts[floor]
	r := p.logMedian() - s.refLog
	se := math.Hypot(p.sum.LogSE, s.refSE)
	c := CPUModel{FloorMB: floor, ReferenceMB: s.refMem, SlowdownPct: 100 * math.Expm1(r)}
	ratio := float64(s.refMem) / float64(floor)
	switch {
	case r > math.Log(1.15) && r > s.cfg.Z*se:
		c.Model = CPUQuota
		c.Evidence = fmt.Sprintf("%d MB is %.0f%% slower than %d MB (time ∝ memory^-%.2f between them): duration scales with memory, as under a CPU quota in proportion to memory",
			floor, c.SlowdownPct, s.refMem, r/math.Log(ratio))
		c.Note = "the choice trades time for memory; it holds on any node, loaded or idle"
	case r < math.Log(1.15) && r <= math.Log1p(s.cfg.Tolerance)+s.cfg.Z*se && ratio >= 2:
		c.Model = CPUShares
		c.Evidence = fmt.Sprintf("%d MB is as fast as %d MB (%+.0f%%): duration does not scale with memory, as under CPU shares on an idle invoker (or for an action not bound by CPU)",
			floor, s.refMem, c.SlowdownPct)
		c.Note = "measured on an idle node: under CPU shares a small size is not slower there; under contention shares give CPU in proportion to memory, so a CPU-bound action at the chosen size may slow down on a busy invoker by up to the ratio of the sizes"
	default:
		c.Model = CPUUnknown
		c.Evidence = fmt.Sprintf("%d MB is %+.0f%% from %d MB (±%.0f%%): neither clearly slower nor as fast",
			floor, c.SlowdownPct, s.refMem, 100*s.cfg.Z*se)
	}
	return c
}

// plausibleRange is the range of sizes another run on the same action
// could well choose: for cost and balanced, the measured sizes whose value
// is not told apart from the best's at the confidence bound, and the
// unmeasured ones that the knee fit (or, without one, the rule that time
// never grows with memory) does not rule out; for
// min-resources, the candidates between the plausible crossings of the
// knee fit, or else between the largest size not settled as too slow and
// the choice. Uncertain is set when the range reaches two candidate steps
// or more from the choice.
func (s *searcher) plausibleRange(d Decision) (lo, hi int, uncertain bool) {
	if d.MemoryMB == 0 {
		return 0, 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lo, hi = d.MemoryMB, d.MemoryMB
	widen := func(m int) {
		lo, hi = min(lo, m), max(hi, m)
	}
	ceil := s.ceilingLocked()
	var feas []int
	for _, m := range s.sortedLocked() {
		if m > ceil && s.pts[m].measured() {
			feas = append(feas, m)
		}
	}
	if d.Predicted {
		// Chosen by the fit between two measured sizes: either of them
		// may be the answer.
		below, above := 0, 0
		for _, m := range feas {
			if m < d.MemoryMB {
				below = m
			} else if above == 0 {
				above = m
			}
		}
		if below > 0 {
			widen(below)
		}
		if above > 0 {
			widen(above)
		}
	}
	switch o := d.Objective; o {
	case Cost, Balanced:
		k := 1.0
		if o == Balanced {
			k = 2 // time × cost: the time's error counts twice
		}
		val := func(m int) (float64, float64) {
			p := s.pts[m]
			t := p.sum.MedianMs
			if ft, ok := s.fitTimeLocked(m); ok && m != s.suspect {
				t = ft
			}
			return math.Log(objectiveValue(o, m, t)), k * p.sum.LogSE
		}
		var bv, bse float64
		if p := s.pts[d.MemoryMB]; p != nil && p.measured() {
			bv, bse = val(d.MemoryMB)
		} else {
			bv, bse = math.Log(objectiveValue(o, d.MemoryMB, d.MedianMs)), k*s.sigma
		}
		for _, m := range feas {
			v, se := val(m)
			if v-bv <= s.cfg.Z*math.Hypot(se, bse) {
				widen(m)
			}
		}
		// Candidates the search did not measure, between the smallest and
		// the largest feasible size measured: by the knee fit when it is
		// usable, else by the bound that time never grows with memory
		// (a size is at least as slow as the next measured one above).
		if len(feas) < 2 {
			break
		}
		useFit := s.fit.ok && !s.fit.misfit()
		for _, m := range s.between(feas[0], feas[len(feas)-1]) {
			if _, probed := s.pts[m]; probed {
				continue
			}
			var v float64
			if useFit {
				v = math.Log(objectiveValue(o, m, math.Exp(s.fit.logTime(float64(m)))))
			} else {
				above := feas[sort.SearchInts(feas, m)]
				v = math.Log(objectiveValue(o, m, s.pts[above].sum.MedianMs))
			}
			if v-bv <= s.cfg.Z*math.Hypot(k*s.sigma, bse) {
				widen(m)
			}
		}
	case MinResources:
		// A choice not settled as fast enough may be too slow: the
		// answer may then be any size up to the next one that is.
		if p := s.pts[d.MemoryMB]; p != nil && p.measured() && !p.settled {
			up := s.refMem
			for _, m := range feas {
				if q := s.pts[m]; m > d.MemoryMB && q.settled && q.verdict == "fast" {
					up = m
					break
				}
			}
			widen(up)
		}
		if s.fit.ok && !s.fit.misfit() {
			clo, chi := s.fit.crossingRange(s.tol)
			for _, m := range s.grid {
				if m > ceil && float64(m) >= clo {
					widen(m)
					break
				}
			}
			for _, m := range s.grid {
				if m > ceil && float64(m) >= chi {
					widen(m)
					break
				}
			}
			break
		}
		// Without a fit: a size below the choice not settled as too slow,
		// and the candidates not measured between the largest size
		// measured too slow and the choice (the budget ran out before the
		// bracket closed), may be the answer.
		slow := ceil
		for _, m := range feas {
			p := s.pts[m]
			if m >= d.MemoryMB || p.verdict != "slow" {
				continue
			}
			if !p.settled {
				widen(m)
			}
			slow = max(slow, m)
		}
		for _, m := range s.between(slow, d.MemoryMB) {
			if _, probed := s.pts[m]; !probed {
				widen(m)
			}
		}
	}
	i, j, k := s.gridIndex(lo), s.gridIndex(hi), s.gridIndex(d.MemoryMB)
	return lo, hi, k-i >= 2 || j-k >= 2
}

// gridIndex is m's place among the candidates (the next one above when m
// is not one).
func (s *searcher) gridIndex(m int) int { return sort.SearchInts(s.grid, m) }
