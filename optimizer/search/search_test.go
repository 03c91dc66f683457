package search_test

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/optimizer/search"
	"github.com/fnmgr/fnmgr/optimizer/sim"
)

// quiet returns f without noise, outliers or cold slowdown.
func quiet(f sim.Function) sim.Function {
	f.Noise, f.OutlierRate, f.ColdFactor = 0.002, 0, 1
	return f
}

func suite(name string) sim.Function {
	for _, f := range sim.Suite() {
		if f.Name == name {
			return f
		}
	}
	panic(name)
}

// coldQuiet returns f without noise or outliers, its cold starts still
// slower.
func coldQuiet(f sim.Function) sim.Function {
	f.Noise, f.OutlierRate = 0.002, 0
	return f
}

func TestRunDecisions(t *testing.T) {
	grid := sim.Grid(128, 3072)
	// 500 ms of I/O and 200 ms of CPU at one core: time × cost is lowest
	// near 410 MB (where the two parts are equal), far below the knee.
	ioHeavy := quiet(sim.Function{Name: "io-heavy", TimeMs: func(m int) float64 {
		return 500 + 200*1024/math.Min(float64(m), 1024)
	}})
	mnistRef := sim.Function{Name: "reference", TimeMs: func(m int) float64 {
		return 2670 * math.Max(1, math.Pow(1024/float64(m), 1.2))
	}}
	for _, tc := range []struct {
		name       string
		f          sim.Function
		candidates []int
		objective  search.Objective
		want       []int // acceptable answers
	}{
		{"the reference case: 2.67 s at 3072, 2048 and 1024 chooses 1024", mnistRef, []int{1024, 2048, 3072}, search.MinResources, []int{1024}},
		{"flat goes to the smallest size", quiet(suite("flat")), grid, search.MinResources, []int{128}},
		{"flat is cheapest at the smallest size", quiet(suite("flat")), grid, search.Cost, []int{128}},
		{"cpu-bound stops at the knee (960 MB is 5.6% slower: within the judged slack)", quiet(suite("cpu-bound")), grid, search.MinResources, []int{960, 1024}},
		{"cpu-bound under cost stays small", quiet(suite("cpu-bound")), grid, search.Cost, []int{128, 192, 256, 320, 384}},
		{"cpu-bound balanced sits at the knee", quiet(suite("cpu-bound")), grid, search.Balanced, []int{960, 1024}},
		{"memory cliff: the smallest feasible", quiet(suite("memory-cliff")), grid, search.MinResources, []int{320}},
		{"memory cliff under cost", quiet(suite("memory-cliff")), grid, search.Cost, []int{320}},
		{"mnist-like: at the knee", quiet(suite("mnist-like")), grid, search.MinResources, []int{1024}},
		{"mnist-like under cost: memory pressure makes more memory cheaper", quiet(suite("mnist-like")), grid, search.Cost, []int{960, 1024}},
		// Without the cold slowdown 320 MB (2.71 s of 3) is feasible and 1%
		// cheaper than 384 MB; the local refinement finds it.
		{"timeouts below: above them", quiet(suite("cpu-timeout")), grid, search.Cost, []int{320, 384, 448}},
		{"cold starts that time out rule a size out (320 MB runs warm in 2.7 s, cold in 3.5 s of 3)", coldQuiet(suite("cpu-timeout")), grid, search.Cost, []int{384, 448}},
		{"balanced with a large fixed part: inside the range, not at the knee", ioHeavy, grid, search.Balanced, []int{320, 384, 448, 512, 576, 640}},
		{"mnist-like balanced: exactly at the knee", quiet(suite("mnist-like")), grid, search.Balanced, []int{1024}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := search.Run(context.Background(), sim.NewAction(tc.f, 7), search.Config{Candidates: tc.candidates, Objective: tc.objective})
			require.NoError(t, err)
			require.Contains(t, tc.want, res.Decision.MemoryMB, "%s\n%+v", res.Decision.Why, res.Steps)
			require.LessOrEqual(t, res.Invocations, 15)
			require.NotEmpty(t, res.Decision.Why)
			require.Len(t, res.Alternatives, 2)
			for _, p := range res.Points {
				if p.MemoryMB < tc.f.WorkingSetMB {
					require.Equal(t, search.Infeasible, p.Feasibility)
				}
			}
			require.GreaterOrEqual(t, res.Decision.MemoryMB, tc.f.WorkingSetMB, "never below the smallest feasible size")
		})
	}
}

func TestRunNeverAborts(t *testing.T) {
	for _, f := range sim.Suite() {
		t.Run(f.Name, func(t *testing.T) {
			for seed := uint64(0); seed < 50; seed++ {
				res, err := search.Run(context.Background(), sim.NewAction(f, seed), search.Config{Candidates: sim.Grid(128, 3072)})
				require.NoError(t, err)
				require.NotZero(t, res.Decision.MemoryMB, "seed %d: %s", seed, res.Decision.Why)
				require.True(t, f.Feasible(res.Decision.MemoryMB) || res.Decision.MemoryMB > f.WorkingSetMB,
					"seed %d chose %d MB", seed, res.Decision.MemoryMB)
				require.LessOrEqual(t, res.Invocations, 15)
			}
		})
	}
}

func TestRunInfeasibleEverywhere(t *testing.T) {
	f := quiet(suite("memory-cliff"))
	f.WorkingSetMB = 8192
	res, err := search.Run(context.Background(), sim.NewAction(f, 1), search.Config{Candidates: sim.Grid(128, 2048)})
	require.NoError(t, err, "an infeasible action is a finding, not an error")
	require.Zero(t, res.Decision.MemoryMB)
	require.Contains(t, res.Decision.Why, "no size is feasible")
	require.Equal(t, "no feasible size", res.StopReason)
}

// counting wraps a prober and counts invocations and GB-seconds.
type counting struct {
	p   search.Prober
	inv atomic.Int64
	gbs atomic.Int64 // micro GB-s
}

func (c *counting) Probe(ctx context.Context, m, n int) ([]search.Observation, error) {
	obs, err := c.p.Probe(ctx, m, n)
	for _, o := range obs {
		c.inv.Add(1)
		c.gbs.Add(int64(o.GBSeconds() * 1e6))
	}
	return obs, err
}

func TestRunTinyBudget(t *testing.T) {
	res, err := search.Run(context.Background(), sim.NewAction(suite("mnist-like"), 3),
		search.Config{Candidates: sim.Grid(128, 3072), MaxGBSeconds: 5})
	require.NoError(t, err, "running out of budget is not an error")
	require.Less(t, res.GBSeconds, 5+25.0)
}

func TestRunBudgets(t *testing.T) {
	f := suite("mnist-like")
	for _, tc := range []struct {
		name   string
		inv    int
		gbs    float64
		maxInv int
	}{
		{"invocations", 6, 0, 6},
		{"default invocations", 0, 0, 15},
		{"GB-seconds", 100, 60, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &counting{p: sim.NewAction(f, 3)}
			res, err := search.Run(context.Background(), c, search.Config{Candidates: sim.Grid(128, 3072), MaxInvocations: tc.inv, MaxGBSeconds: tc.gbs})
			require.NoError(t, err)
			require.LessOrEqual(t, int(c.inv.Load()), tc.maxInv)
			require.Equal(t, int(c.inv.Load()), res.Invocations)
			if tc.gbs > 0 {
				// Checked between invocations: at most one invocation
				// (here at most 3072 MB × ~6 s cold) over.
				require.LessOrEqual(t, res.GBSeconds, tc.gbs+20)
			}
			require.NotZero(t, res.Decision.MemoryMB)
		})
	}
}

// failing answers ErrBudget after n invocations, like a Tester whose hard
// budget ran out.
type failing struct {
	p    search.Prober
	left int
	err  error
}

func (f *failing) Probe(ctx context.Context, m, n int) ([]search.Observation, error) {
	if f.left <= 0 {
		return nil, f.err
	}
	n = min(n, f.left)
	f.left -= n
	return f.p.Probe(ctx, m, n)
}

func TestRunProberErrors(t *testing.T) {
	f := quiet(suite("cpu-bound"))
	t.Run("budget refusal decides with what it has", func(t *testing.T) {
		res, err := search.Run(context.Background(), &failing{p: sim.NewAction(f, 1), left: 7, err: search.ErrBudget},
			search.Config{Candidates: sim.Grid(128, 3072), Concurrency: 1})
		require.NoError(t, err)
		require.NotZero(t, res.Decision.MemoryMB)
		require.False(t, res.Settled)
	})
	t.Run("platform failure is an error with the partial result", func(t *testing.T) {
		boom := errors.New("controller down")
		res, err := search.Run(context.Background(), &failing{p: sim.NewAction(f, 1), left: 5, err: boom},
			search.Config{Candidates: sim.Grid(128, 3072), Concurrency: 1})
		require.ErrorIs(t, err, boom)
		require.NotEmpty(t, res.Points)
	})
	t.Run("cancellation", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := search.Run(ctx, sim.NewAction(f, 1), search.Config{Candidates: sim.Grid(128, 3072)})
		require.ErrorIs(t, err, context.Canceled)
	})
	t.Run("bad config", func(t *testing.T) {
		_, err := search.Run(context.Background(), sim.NewAction(f, 1), search.Config{})
		require.Error(t, err)
		_, err = search.Run(context.Background(), sim.NewAction(f, 1), search.Config{Candidates: []int{128}, Objective: "speed"})
		require.Error(t, err)
	})
}

func TestRunSingleCandidate(t *testing.T) {
	res, err := search.Run(context.Background(), sim.NewAction(quiet(suite("flat")), 1), search.Config{Candidates: []int{256}})
	require.NoError(t, err)
	require.Equal(t, 256, res.Decision.MemoryMB)
}

func TestColdStartsKeptApart(t *testing.T) {
	f := quiet(suite("mnist-like"))
	f.ColdFactor = 3 // a cold run three times slower must not move the medians
	res, err := search.Run(context.Background(), sim.NewAction(f, 2), search.Config{Candidates: sim.Grid(128, 3072)})
	require.NoError(t, err)
	for _, p := range res.Points {
		for _, o := range p.Warm {
			require.False(t, o.Cold)
		}
		if p.Feasibility == search.Feasible && p.Stats.N > 0 {
			require.Len(t, p.Cold, 1)
			require.Greater(t, p.Cold[0].InitMs, 0.0)
			require.InDelta(t, f.TimeMs(p.MemoryMB), p.Stats.MedianMs, 0.03*f.TimeMs(p.MemoryMB))
		}
	}
}

func TestPoints(t *testing.T) {
	obs := []search.Observation{
		{MemoryMB: 256, Cold: true, DurationMs: 500, InitMs: 300, Outcome: search.OK},
		{MemoryMB: 256, DurationMs: 200, Outcome: search.OK},
		{MemoryMB: 256, DurationMs: 210, Outcome: search.OK},
		{MemoryMB: 128, Cold: true, DurationMs: 50, Outcome: search.OOM, Message: "The action exhausted its memory and was aborted."},
	}
	pts := search.Points(obs, 0.05)
	require.Len(t, pts, 2)
	require.Equal(t, search.Infeasible, pts[0].Feasibility)
	require.Equal(t, search.OOM, pts[0].Failure)
	require.Equal(t, 2, pts[1].Stats.N)
	require.InDelta(t, 205, pts[1].Stats.MedianMs, 1e-9)
}
