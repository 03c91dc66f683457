package score

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/optimizer/search"
)

// TestJudge: a choice is right when it is the truth's answer or within 5%
// of it in the objective's own measure; a size the truth does not hold is
// never right.
func TestJudge(t *testing.T) {
	t.Parallel()
	// cost (memory × time): 128: 128000, 256: 122880, 512: 128000, 1024:
	// 245760; balanced (memory × time²): 512 × 250² = 32000000 is the
	// least (256: 58982400, 1024: 58982400).
	tr := NewTruth(map[int]float64{128: 1000, 256: 480, 512: 250, 1024: 240}, 0.05)
	require.Equal(t, 256, tr.Best(search.Cost))
	require.Equal(t, 512, tr.Best(search.MinResources), "250 ms is within 5% of 240 ms")
	require.Equal(t, 512, tr.Best(search.Balanced))
	require.Equal(t, 240.0, tr.BestMs())
	require.Equal(t, 480.0, tr.MedianMs(256))
	require.Zero(t, tr.MedianMs(300))
	for _, tc := range []struct {
		o      search.Objective
		m      int
		ok     bool
		regret float64
	}{
		{search.Cost, 256, true, 0},
		{search.Cost, 128, true, 128000.0/122880 - 1},
		{search.Cost, 1024, false, 245760.0/122880 - 1},
		{search.Cost, 0, false, math.Inf(1)},
		{search.Cost, 300, false, math.Inf(1)},
		{search.MinResources, 512, true, 0},
		{search.MinResources, 1024, false, 1},
		{search.MinResources, 256, false, 480/(1.05*240) - 1},
		{search.Balanced, 1024, false, 1024*240*240/(512*250*250.0) - 1},
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.o, tc.m), func(t *testing.T) {
			ok, regret := tr.Judge(tc.o, tc.m)
			require.Equal(t, tc.ok, ok)
			require.InDelta(t, tc.regret, regret, 1e-9)
		})
	}
}

// TestTruthWithoutFeasibleSizes: sizes where the action cannot run are left
// out of the truth; with none left there is no right answer.
func TestTruthWithoutFeasibleSizes(t *testing.T) {
	t.Parallel()
	tr := NewTruth(map[int]float64{}, 0.05)
	for _, o := range search.Objectives {
		require.Zero(t, tr.Best(o))
		ok, regret := tr.Judge(o, 256)
		require.False(t, ok)
		require.True(t, math.IsInf(regret, 1))
	}
}

func TestGridChoice(t *testing.T) {
	t.Parallel()
	means := map[int]float64{1024: 240, 128: 1000, 512: 250, 256: 480}
	cases := []struct {
		name  string
		means map[int]float64
		o     search.Objective
		tol   float64
		want  int
	}{
		{"min-resources: smallest within the tolerance", means, search.MinResources, 0.05, 512},
		{"min-resources: no tolerance", means, search.MinResources, 0, 1024},
		{"cost: least memory × time", means, search.Cost, 0.05, 256},
		{"balanced: least memory × time²", means, search.Balanced, 0.05, 512},
		{"cost: the smaller on a tie", map[int]float64{512: 100, 256: 200}, search.Cost, 0.05, 256},
		{"nothing measured", nil, search.Cost, 0.05, 0},
		{"nothing measured, min-resources", nil, search.MinResources, 0.05, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, GridChoice(tc.means, tc.o, tc.tol))
		})
	}
}

func TestTrimmedMean(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		xs   []float64
		cut  float64
		want float64
	}{
		{"no cut", []float64{1, 2, 3}, 0, 2},
		{"20% of 10 drops two each side", []float64{100, 1, 5, 5, 5, 5, 5, 5, -100, 9}, 0.2, 5},
		{"20% of 4 drops none", []float64{1, 2, 3, 6}, 0.2, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			xs := append([]float64(nil), tc.xs...)
			require.InDelta(t, tc.want, TrimmedMean(tc.xs, tc.cut), 1e-12)
			require.Equal(t, xs, tc.xs, "the input is left as it was")
		})
	}
}
