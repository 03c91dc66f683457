package sim

import (
	"math"

	"github.com/fnmgr/fnmgr/optimizer/search"
)

// Suite is the benchmark's functions, each with its ground truth built in:
//
//   - flat: sleeps 200 ms (I/O bound), with half a millisecond of CPU work;
//   - cpu-bound: 150 ms of I/O plus 800 ms of CPU at one full core, which
//     it gets at 1024 MB (CPU in proportion to memory, as OpenWhisk's
//     user-cpus setting gives), so time falls as 1/memory up to 1024 MB;
//   - cpu-timeout: the same with a 3 s time limit, so the smallest sizes
//     time out;
//   - memory-cliff: I/O bound with a 300 MB working set: out of memory
//     below 320 MB;
//   - mnist-like: TensorFlow MNIST inference, 2.67 s at and above 1 GB,
//     slower than in proportion below it (memory pressure), out of memory
//     below 256 MB, a 3.5 s cold start.
func Suite() []Function {
	knee := func(fixed, cpu float64, kneeMB int, p float64) func(int) float64 {
		return func(m int) float64 {
			return fixed + cpu*math.Pow(float64(kneeMB)/float64(min(m, kneeMB)), p)
		}
	}
	return []Function{
		{Name: "flat", TimeMs: knee(200, 0.5, 1024, 1), Noise: 0.01, OutlierRate: 0.05, InitMs: 150, ColdFactor: 1.2},
		{Name: "cpu-bound", TimeMs: knee(150, 800, 1024, 1), Noise: 0.02, OutlierRate: 0.05, InitMs: 150, ColdFactor: 1.3},
		{Name: "cpu-timeout", TimeMs: knee(150, 800, 1024, 1), TimeoutMs: 3000, Noise: 0.02, OutlierRate: 0.05,
			InitMs: 150, ColdFactor: 1.3},
		{Name: "memory-cliff", TimeMs: knee(120, 1, 1024, 1), WorkingSetMB: 320, Noise: 0.01, OutlierRate: 0.05,
			InitMs: 300, ColdFactor: 1.2},
		{Name: "mnist-like", TimeMs: knee(0, 2670, 1024, 1.2), WorkingSetMB: 256, Noise: 0.03, OutlierRate: 0.05,
			InitMs: 3500, ColdFactor: 1.5},
	}
}

// Truth is the right answer for each objective over a grid.
type Truth struct {
	BestMs   float64
	Decision map[search.Objective]int
	value    map[search.Objective]map[int]float64
}

// value of size m under objective o from the true medians (lower is
// better); +Inf when infeasible.
func (f Function) value(o search.Objective, m int) float64 {
	if !f.Feasible(m) {
		return math.Inf(1)
	}
	t := f.TimeMs(m)
	switch o {
	case search.Cost:
		return search.GBSeconds(m, t)
	case search.Balanced:
		return float64(m) * t * t
	}
	return float64(m)
}

// Truth computes the right answers over grid with min-resources'
// tolerance tol.
func (f Function) Truth(grid []int, tol float64) Truth {
	tr := Truth{BestMs: math.Inf(1), Decision: map[search.Objective]int{}, value: map[search.Objective]map[int]float64{}}
	for _, m := range grid {
		if f.Feasible(m) {
			tr.BestMs = math.Min(tr.BestMs, f.TimeMs(m))
		}
	}
	for _, o := range search.Objectives {
		tr.value[o] = map[int]float64{}
		best := math.Inf(1)
		for _, m := range grid {
			v := f.value(o, m)
			if o == search.MinResources && f.Feasible(m) && f.TimeMs(m) > (1+tol)*tr.BestMs {
				v = math.Inf(1)
			}
			tr.value[o][m] = v
			if v < best {
				best, tr.Decision[o] = v, m
			}
		}
	}
	return tr
}

// Judge scores choice m for objective o: ok when it is the true answer or
// within 5% of it in the objective's own measure (memory for
// min-resources, whose time may then exceed the tolerance by 5% at most;
// GB-seconds for cost; time × GB-seconds for balanced). regret is the
// relative excess over the true answer (for min-resources the larger of
// the memory excess and the excess slowdown).
func (f Function) Judge(tr Truth, o search.Objective, tol float64, m int) (ok bool, regret float64) {
	if m == 0 || !f.Feasible(m) {
		return false, math.Inf(1)
	}
	want := tr.Decision[o]
	if m == want {
		return true, 0
	}
	if o == search.MinResources {
		slow := f.TimeMs(m)/((1+tol)*tr.BestMs) - 1
		mem := float64(m)/float64(want) - 1
		regret = math.Max(math.Max(slow, mem), 0)
		return slow <= 0.05 && mem <= 0.05, regret
	}
	regret = f.value(o, m)/tr.value[o][want] - 1
	return regret <= 0.05, regret
}
