package search_test

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/optimizer/search"
	"github.com/fnmgr/fnmgr/optimizer/sim"
)

// TestCPUModel: the search tells from its own probes whether duration
// scales with memory (a CPU quota ∝ memory, OpenWhisk's user-cpus and the
// local invoker) or not (CPU shares on an idle invoker, OpenWhisk's
// default), and under shares a CPU-bound action that is not slowed gets
// the smallest feasible size for every objective, with the idle-node
// caveat in the note.
func TestCPUModel(t *testing.T) {
	grid := sim.Grid(128, 2048)
	// 800 ms of CPU at a full core from 1024 MB: under a quota it is
	// slower below; under shares on an idle node it runs at full speed
	// at every size (it still needs 200 MB).
	quota := sim.Function{Name: "quota", TimeMs: func(m int) float64 { return 20 + 800*1024/math.Min(float64(m), 1024) }, Noise: 0.04}
	shares := sim.Function{Name: "shares", TimeMs: func(int) float64 { return 820 }, Noise: 0.04, WorkingSetMB: 200}
	for _, tc := range []struct {
		name  string
		f     sim.Function
		o     search.Objective
		model string
		want  []int
	}{
		{"quota, min-resources", quota, search.MinResources, search.CPUQuota, nil},
		{"quota, cost", quota, search.Cost, search.CPUQuota, nil},
		{"shares, min-resources", shares, search.MinResources, search.CPUShares, []int{256}},
		{"shares, cost", shares, search.Cost, search.CPUShares, []int{256}},
		{"shares, balanced", shares, search.Balanced, search.CPUShares, []int{256}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			smallest := 0
			for seed := uint64(1); seed <= 10; seed++ {
				res, err := search.Run(context.Background(), sim.NewAction(tc.f, seed), search.Config{Candidates: grid, Objective: tc.o})
				require.NoError(t, err)
				c := res.CPUModel
				require.Equal(t, tc.model, c.Model, "seed %d: %+v", seed, c)
				require.NotEmpty(t, c.Evidence)
				require.Less(t, c.FloorMB, c.ReferenceMB)
				if tc.want != nil && res.Decision.MemoryMB == tc.want[0] {
					smallest++
				}
				if tc.model == search.CPUShares {
					require.Contains(t, c.Note, "idle node")
					require.Contains(t, c.Note, "contention")
					require.Less(t, math.Abs(c.SlowdownPct), 15.0)
				} else {
					require.Greater(t, c.SlowdownPct, 100.0)
				}
			}
			// Cost and balanced always; min-resources, whose rule is the
			// smallest size above every size measured slower than the
			// tolerance, may take a noisy draw (4%) for a slow one.
			switch {
			case tc.want == nil:
			case tc.o == search.MinResources:
				require.GreaterOrEqual(t, smallest, 9, "the smallest feasible size")
			default:
				require.Equal(t, 10, smallest, "the smallest feasible size")
			}
		})
	}
}

// TestCPUModelUnknown: one size, or sizes less than twice apart, are no
// evidence either way.
func TestCPUModelUnknown(t *testing.T) {
	f := sim.Function{Name: "flat", TimeMs: func(int) float64 { return 500 }, Noise: 0.03}
	res, err := search.Run(context.Background(), sim.NewAction(f, 1), search.Config{Candidates: []int{256}})
	require.NoError(t, err)
	require.Equal(t, search.CPUUnknown, res.CPUModel.Model)
	res, err = search.Run(context.Background(), sim.NewAction(f, 1), search.Config{Candidates: []int{256, 384}})
	require.NoError(t, err)
	require.Equal(t, search.CPUUnknown, res.CPUModel.Model, "sizes 1.5 times apart: %+v", res.CPUModel)
}

// TestUncertainRange: a flagged choice lies inside its range, which spans
// more than one step; a clean knee is not flagged.
func TestUncertainRange(t *testing.T) {
	grid := sim.Grid(128, 2048)
	knee := quiet(suite("cpu-bound"))
	res, err := search.Run(context.Background(), sim.NewAction(knee, 3), search.Config{Candidates: grid, Objective: search.MinResources})
	require.NoError(t, err)
	require.False(t, res.Uncertain, "%+v", res.RangeMB)
	// A gentle slope under heavy noise with a small budget cannot be
	// settled: the search says so.
	gentle := sim.Function{Name: "gentle", TimeMs: func(m int) float64 { return 1000 * math.Pow(2048/float64(m), 0.08) }, Noise: 0.12}
	flagged := 0
	for seed := uint64(1); seed <= 20; seed++ {
		res, err := search.Run(context.Background(), sim.NewAction(gentle, seed), search.Config{Candidates: grid, Objective: search.MinResources, MaxInvocations: 10})
		require.NoError(t, err)
		if res.Uncertain {
			flagged++
			require.LessOrEqual(t, res.RangeMB[0], res.Decision.MemoryMB)
			require.GreaterOrEqual(t, res.RangeMB[1], res.Decision.MemoryMB)
		}
	}
	require.GreaterOrEqual(t, flagged, 10, "most such runs say they are uncertain")
}
