package sim

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/optimizer/search"
)

// minSuccess is the share of trials each function and objective must get
// right (the true answer, or within 5% in the objective's own measure),
// two to three points under what the search achieves with seed 42
// (docs/optimizer.md has the table), so that a regression shows. The
// issue's goal is 95% overall, which the search meets (97.0%); the one
// row below 90% is balanced on the mnist-like curve (84%), where only the
// exact knee (1024 MB) is within 5% (one step either way costs 6 to 9%)
// and 3% noise plus 5% of runs slowed 1.2-3× leave the knee's place
// uncertain by about 2.5% after 15 invocations.
var minSuccess = map[string]map[search.Objective]float64{
	"flat":         {search.MinResources: 0.96, search.Cost: 0.96, search.Balanced: 0.96},
	"cpu-bound":    {search.MinResources: 0.93, search.Cost: 0.97, search.Balanced: 0.93},
	"cpu-timeout":  {search.MinResources: 0.94, search.Cost: 0.96, search.Balanced: 0.93},
	"memory-cliff": {search.MinResources: 0.97, search.Cost: 0.97, search.Balanced: 0.97},
	"mnist-like":   {search.MinResources: 0.95, search.Cost: 0.96, search.Balanced: 0.81},
}

// goalSuccess is issue #6's goal: the true best or within 5% of it in at
// least 95% of trials, over the whole suite.
const goalSuccess = 0.95

// TestSuiteGoals scores the search over a fixed seed: at most 15
// invocations per decision, never an aborted run (the memory cliff
// included), and the success floors above; and compares it with the
// Power Tuning grid in the same run.
func TestSuiteGoals(t *testing.T) {
	s, err := EvaluateSuite(context.Background(), 200, 42)
	require.NoError(t, err)
	var b strings.Builder
	WriteTable(&b, append(append(s.Adaptive, s.Grid...), s.GridSkip...))
	t.Log("\n" + b.String())
	for _, sc := range s.Adaptive {
		t.Run(sc.Function+"/"+string(sc.Objective), func(t *testing.T) {
			require.LessOrEqual(t, sc.MaxInvocations, 15, "invocations per decision")
			require.Zero(t, sc.Aborted, "aborted runs")
			require.GreaterOrEqual(t, sc.Success, minSuccess[sc.Function][sc.Objective], "success share")
		})
	}
	all, grid := Overall(s.Adaptive), Overall(s.GridSkip)
	require.GreaterOrEqual(t, all.Success, goalSuccess, "success share over the suite")
	require.LessOrEqual(t, all.Invocations*4, grid.Invocations, "at least 4× fewer invocations than the grid")
	require.Less(t, all.GBSeconds, grid.GBSeconds/2, "less than half the grid's GB-seconds")
	for _, sc := range s.Grid {
		if sc.Function == "memory-cliff" {
			require.Equal(t, sc.Trials, sc.Aborted, "Power Tuning aborts when the smallest size fails")
		}
	}
}

// TestSuiteGoalsOtherSeeds: the goals hold on other seeds too, not only
// on the one the floors above were read from: 15 invocations at most, no
// aborted run, 95% overall, and no row far off (every row at least 80%:
// balanced on the mnist-like curve is the weakest, 83.5 to 87%).
func TestSuiteGoalsOtherSeeds(t *testing.T) {
	if testing.Short() {
		t.Skip("three more runs of the suite")
	}
	for _, seed := range []uint64{7, 1234, 99} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			s, err := EvaluateSuite(context.Background(), 200, seed)
			require.NoError(t, err)
			all := Overall(s.Adaptive)
			t.Logf("seed %d: %.1f%% right, %.1f invocations per decision", seed, 100*all.Success, all.Invocations)
			require.GreaterOrEqual(t, all.Success, goalSuccess, "success share over the suite")
			require.LessOrEqual(t, all.MaxInvocations, 15, "invocations per decision")
			require.Zero(t, all.Aborted, "aborted runs")
			for _, sc := range s.Adaptive {
				require.GreaterOrEqual(t, sc.Success, 0.80, "%s/%s", sc.Function, sc.Objective)
			}
		})
	}
}

var tableOnce sync.Once

// BenchmarkSuite compares the adaptive search with the Power Tuning grid
// on the simulated suite and reports the totals as metrics (make bench).
func BenchmarkSuite(b *testing.B) {
	var s SuiteScores
	for b.Loop() {
		var err error
		s, err = EvaluateSuite(context.Background(), 200, 42)
		if err != nil {
			b.Fatal(err)
		}
	}
	tableOnce.Do(func() {
		var sb strings.Builder
		WriteTable(&sb, append(append(append(s.Adaptive, s.Grid...), s.GridSkip...),
			Overall(s.Adaptive), Overall(s.Grid), Overall(s.GridSkip)))
		// Printed, not logged: go test cuts a benchmark's log to 10 lines.
		fmt.Println(sb.String())
	})
	a, g, gs := Overall(s.Adaptive), Overall(s.Grid), Overall(s.GridSkip)
	b.ReportMetric(a.Invocations, "inv/decision")
	b.ReportMetric(float64(a.MaxInvocations), "max-inv/decision")
	b.ReportMetric(100*a.Success, "success-%")
	b.ReportMetric(a.GBSeconds, "GB-s/decision")
	b.ReportMetric(float64(a.Aborted), "aborted")
	b.ReportMetric(g.Invocations, "grid-inv/decision")
	b.ReportMetric(100*gs.Success, "grid-success-%")
	b.ReportMetric(float64(g.Aborted), "grid-aborted")
}
