// Package score judges the optimizer's choices of a memory size against
// the truth of a response curve (the true median time at each size), and
// makes the choice of the baseline it is compared with, a Power
// Tuning-style grid. The simulated suite (optimizer/sim) and the replay of
// measured curves (optimizer/replay) both score with it, so a choice is
// right by the same rule in both. It imports only optimizer/search.
package score

import (
	"math"
	"sort"

	"github.com/fnmgr/fnmgr/optimizer/search"
)

// Within is the slack a choice is allowed in the objective's own measure:
// a choice within 5% of the right answer counts as right.
const Within = 0.05

// Truth is the right answer for each objective over the sizes a choice may
// take, from each size's true median time.
type Truth struct {
	sizes  []int // ascending
	median map[int]float64
	bestMs float64
	tol    float64
	best   map[search.Objective]int
}

// NewTruth computes the right answers from median, the true median time
// (ms) at each size a choice may take (a size missing from it, one where
// the action cannot run, is never right), with min-resources' tolerance
// tol.
func NewTruth(median map[int]float64, tol float64) Truth {
	t := Truth{median: median, bestMs: math.Inf(1), tol: tol, best: map[search.Objective]int{}}
	for m, d := range median {
		t.sizes = append(t.sizes, m)
		t.bestMs = math.Min(t.bestMs, d)
	}
	sort.Ints(t.sizes)
	for _, o := range search.Objectives {
		best, bv := 0, math.Inf(1)
		for _, m := range t.sizes {
			if v := t.value(o, m); v < bv {
				best, bv = m, v
			}
		}
		t.best[o] = best
	}
	return t
}

// MedianMs is the true median time at m (0 when m is not a size of the
// truth).
func (t Truth) MedianMs(m int) float64 { return t.median[m] }

// BestMs is the fastest true median.
func (t Truth) BestMs() float64 { return t.bestMs }

// value is what objective o minimises at m: memory for min-resources
// (among the sizes within the tolerance of the fastest; +Inf for the
// others), memory × time (GB-seconds) for cost, memory × time² for
// balanced. +Inf where m is not a size of the truth.
func (t Truth) value(o search.Objective, m int) float64 {
	d, ok := t.median[m]
	if !ok {
		return math.Inf(1)
	}
	switch o {
	case search.Cost:
		return float64(m) * d
	case search.Balanced:
		return float64(m) * d * d
	}
	if d > (1+t.tol)*t.bestMs {
		return math.Inf(1)
	}
	return float64(m)
}

// Best is the right answer for o: the size with the least value (the
// smallest on ties); 0 when there is none.
func (t Truth) Best(o search.Objective) int {
	if b, ok := t.best[o]; ok {
		return b
	}
	return t.best[search.MinResources] // an objective the search does not know is min-resources
}

// Judge scores choice m for o. For cost and balanced, regret is the
// choice's true value over the best's, less one, and the choice is right
// when regret <= Within. For min-resources the right answer is the
// smallest size whose true median is within the tolerance of the fastest;
// a choice is right when it is no more than 5% larger and its median no
// more than 5% beyond the tolerance, and regret is the larger of the two
// excesses. A choice that is not a size of the truth (0: none) has
// infinite regret.
func (t Truth) Judge(o search.Objective, m int) (ok bool, regret float64) {
	d, on := t.median[m]
	if !on {
		return false, math.Inf(1)
	}
	want := t.Best(o)
	if m == want {
		return true, 0
	}
	if o != search.Cost && o != search.Balanced {
		slow := d/((1+t.tol)*t.bestMs) - 1
		mem := float64(m)/float64(want) - 1
		regret = math.Max(math.Max(slow, mem), 0)
		return slow <= Within && mem <= Within, regret
	}
	regret = t.value(o, m)/t.value(o, want) - 1
	return regret <= Within, regret
}

// GridChoice is a Power Tuning-style grid's choice from the mean time it
// measured at each size: for min-resources the smallest size within the
// tolerance tol of the fastest mean, else the size with the least cost
// (memory × time) or balanced (memory × time²) value. 0 when means is
// empty.
func GridChoice(means map[int]float64, o search.Objective, tol float64) int {
	var ms []int
	best := math.Inf(1)
	for m, d := range means {
		ms = append(ms, m)
		best = math.Min(best, d)
	}
	sort.Ints(ms)
	pick, pv := 0, math.Inf(1)
	for _, m := range ms {
		d := means[m]
		var v float64
		switch o {
		case search.Cost:
			v = float64(m) * d
		case search.Balanced:
			v = float64(m) * d * d
		default:
			if d <= (1+tol)*best {
				return m
			}
			continue
		}
		if v < pv {
			pick, pv = m, v
		}
	}
	return pick
}

// TrimmedMean is the mean of xs without its lowest and highest share cut
// (Power Tuning's summary of a size's durations, with cut 0.2).
func TrimmedMean(xs []float64, cut float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	k := int(float64(len(s)) * cut)
	s = s[k : len(s)-k]
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return sum / float64(len(s))
}
