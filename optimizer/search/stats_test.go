package search

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMedianAndMAD(t *testing.T) {
	for _, tc := range []struct {
		name      string
		xs        []float64
		med, madv float64
	}{
		{"empty", nil, 0, 0},
		{"one", []float64{5}, 5, 0},
		{"even", []float64{4, 1, 3, 2}, 2.5, 1},
		{"odd with outlier", []float64{10, 11, 12, 100, 9}, 11, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := median(tc.xs)
			require.InDelta(t, tc.med, m, 1e-9)
			if len(tc.xs) > 0 {
				require.InDelta(t, tc.madv, mad(tc.xs, m), 1e-9)
			}
		})
	}
}

func TestOrderStatCI(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int
		ok     bool
		lo, hi int // 1-based order statistics
	}{
		{"five is too few for 95%", 5, false, 0, 0},
		{"six: min and max (96.9%)", 6, true, 1, 6},
		{"nine: 2nd and 8th (96.1%)", 9, true, 2, 8},
		{"twenty: 6th and 15th (95.9%)", 20, true, 6, 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			xs := make([]float64, tc.n)
			for i := range xs {
				xs[i] = float64(i + 1)
			}
			lo, hi, ok := orderStatCI(xs, 0.95)
			require.Equal(t, tc.ok, ok)
			if ok {
				require.Equal(t, float64(tc.lo), lo)
				require.Equal(t, float64(tc.hi), hi)
			}
		})
	}
}

func TestSummarizeOutliers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		xs       []float64
		outliers int
		median   float64
	}{
		{"clean", []float64{100, 101, 99, 100, 102}, 0, 100},
		{"one slow run is dropped", []float64{100, 101, 99, 100, 300}, 1, 100},
		{"two close samples: their mean", []float64{100, 102}, 0, 101},
		{"two far apart: the faster, corrected", []float64{100, 300}, 1, 100 * 1.011344},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, kept := summarize(tc.xs, 0.02)
			require.Equal(t, tc.outliers, s.Outliers)
			if len(tc.xs) > 2 {
				require.Len(t, kept, len(tc.xs)-tc.outliers)
			}
			require.InDelta(t, tc.median, s.MedianMs, 1e-3)
			require.LessOrEqual(t, s.CILowMs, s.MedianMs)
			require.GreaterOrEqual(t, s.CIHighMs, s.MedianMs)
			require.Greater(t, s.LogSE, 0.0)
		})
	}
}

func TestPooledSigma(t *testing.T) {
	t.Run("no data gives the prior", func(t *testing.T) {
		require.InDelta(t, priorCV, pooledSigma(nil), 1e-12)
	})
	t.Run("tight data pulls it down", func(t *testing.T) {
		g := [][]float64{{100, 101, 99, 100}, {200, 202, 198}, {50, 50.5}}
		require.Less(t, pooledSigma(g), 0.03)
	})
	t.Run("two slowed runs of three do not inflate it", func(t *testing.T) {
		g := [][]float64{{100, 101, 99, 100}, {200, 202, 198}, {1554, 2004, 2112}}
		require.Less(t, pooledSigma(g), 0.03)
	})
	t.Run("a pair holding an outlier does not inflate it", func(t *testing.T) {
		g := [][]float64{{100, 101, 99, 100}, {200, 202, 198}, {50, 150}}
		require.Less(t, pooledSigma(g), 0.05)
	})
}

func TestIsotonicDecreasing(t *testing.T) {
	fit, w := isotonicDecreasing([]float64{5, 4, 4.5, 2, 3}, []float64{1, 1, 1, 1, 1})
	require.Equal(t, []float64{5, 4.25, 4.25, 2.5, 2.5}, fit)
	require.Equal(t, []float64{1, 2, 2, 2, 2}, w)
	for i := 1; i < len(fit); i++ {
		require.LessOrEqual(t, fit[i], fit[i-1])
	}
}

func TestFitKnee(t *testing.T) {
	grid := []int{}
	for m := 128; m <= 3072; m += 64 {
		grid = append(grid, m)
	}
	curve := func(m int) float64 { return 2670 * math.Pow(math.Max(1, 1024/float64(m)), 1.2) }
	ms := []int{256, 640, 1024, 2048, 3072}
	var ys, ws []float64
	for _, m := range ms {
		ys, ws = append(ys, math.Log(curve(m))), append(ws, 1)
	}
	t.Run("finds the knee and slope", func(t *testing.T) {
		f := fitKnee(ms, ys, ws, 0.02)
		require.True(t, f.ok)
		require.InDelta(t, 1024, f.knee, 1024*0.01)
		require.InDelta(t, 1.2, f.p, 0.01)
		require.Equal(t, 1.0, f.f, "a power law: all of the time scales")
		require.InDelta(t, 2670, math.Exp(f.a), 10)
		require.InDelta(t, 1024*math.Pow(1.05, -1/1.2), f.crossing(0.05), 1024*0.015)
		lo, hi := f.crossingRange(0.05)
		require.LessOrEqual(t, lo, f.crossing(0.05))
		require.GreaterOrEqual(t, hi, f.crossing(0.05))
	})
	t.Run("a fixed part plus one in inverse proportion to memory", func(t *testing.T) {
		// 150 ms of I/O and 800 ms of CPU at one core, which it gets
		// at 1024 MB: 84% of the time scales below the knee, and the
		// log-log slope falls from nearly 1 to 0.84 towards it, which
		// no single power law follows.
		cpu := func(m int) float64 { return 150 + 800*1024/math.Min(float64(m), 1024) }
		ms := []int{128, 384, 640, 832, 960, 1024, 2048, 3072}
		var ys, ws []float64
		for _, m := range ms {
			ys, ws = append(ys, math.Log(cpu(m))), append(ws, 1)
		}
		f := fitKnee(ms, ys, ws, 0.02)
		require.True(t, f.ok)
		require.False(t, f.misfit())
		require.InDelta(t, 1024, f.knee, 1024*0.01)
		require.Equal(t, 1.0, f.p)
		require.InDelta(t, 800.0/950, f.f, 0.01)
		require.InDelta(t, 950, math.Exp(f.logTime(512)-math.Log(cpu(512)/950)), 5)
		require.InDelta(t, 0.84, f.slope(1000), 0.02)
		require.Greater(t, f.slope(128), 0.97)
		// The true crossing: 150 + 800·1024/m = 1.05·950 at 966.6 MB.
		require.InDelta(t, 966.6, f.crossing(0.05), 966.6*0.01)
	})
	t.Run("flat data is flat", func(t *testing.T) {
		flat := []float64{math.Log(200), math.Log(201), math.Log(199), math.Log(200)}
		f := fitKnee([]int{128, 512, 1024, 3072}, flat, []float64{1, 1, 1, 1}, 0.02)
		require.True(t, f.flat)
		require.False(t, f.ok)
	})
	t.Run("one point below the knee places nothing", func(t *testing.T) {
		f := fitKnee([]int{640, 1088, 3072}, []float64{math.Log(4700), math.Log(2670), math.Log(2670)}, []float64{1, 1, 1}, 0.02)
		require.False(t, f.ok)
	})
}

func TestTolAt(t *testing.T) {
	var grid []int
	for m := 128; m <= 3072; m += 64 {
		grid = append(grid, m)
	}
	for _, tc := range []struct {
		name string
		o    Objective
		m    int
		want float64
		grid []int // default: 128 to 3072 MB, 64 apart
	}{
		{"min-resources: the tolerance", MinResources, 1024, 0.05, nil},
		{"cost at 1024 MB: what 1088 MB costs more", Cost, 1024, 1088.0/1024 - 1, nil},
		{"cost on a fine grid: at least the tolerance", Cost, 3008, 0.05, []int{2944, 3008, 3072}},
		{"balanced at 1024 MB: what 1088 MB costs more", Balanced, 1024, math.Sqrt(1088.0/1024) - 1, nil},
		{"balanced between candidates: the step it lies in", Balanced, 1000, math.Sqrt(1024.0/960) - 1, nil},
		{"balanced at the largest size: the last step", Balanced, 3072, math.Sqrt(3072.0/3008) - 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := grid
			if tc.grid != nil {
				g = tc.grid
			}
			s := &searcher{cfg: Config{Candidates: g, Objective: tc.o}.withDefaults(), grid: g}
			require.InDelta(t, tc.want, s.tolAt(tc.m), 1e-12)
		})
	}
}
