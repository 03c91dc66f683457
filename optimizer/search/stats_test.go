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
		require.InDelta(t, 2670, math.Exp(f.a), 10)
		require.InDelta(t, 1024*math.Pow(1.05, -1/1.2), f.crossing(0.05), 1024*0.015)
		lo, hi := f.crossingRange(0.05)
		require.LessOrEqual(t, lo, f.crossing(0.05))
		require.GreaterOrEqual(t, hi, f.crossing(0.05))
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
