package sim

import (
	"math"

	"github.com/fnmgr/fnmgr/optimizer/score"
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

// Truth is the right answer for each objective over grid: the true
// median time of each size where f can run (Feasible), with
// min-resources' tolerance tol.
func (f Function) Truth(grid []int, tol float64) score.Truth {
	median := map[int]float64{}
	for _, m := range grid {
		if f.Feasible(m) {
			median[m] = f.TimeMs(m)
		}
	}
	return score.NewTruth(median, tol)
}
