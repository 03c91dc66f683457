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
// a little under what the search achieves with seed 42 (docs/optimizer.md
// has the table). The goal is 95% everywhere; at the suite's noise
// (calibrated on the local stack: 1-3% noise plus 5% of runs slowed 1.2-3×)
// the knee functions fall short of it, most of all balanced on the
// mnist-like curve, where only the exact knee is within 5%. The floors make
// a regression show.
var minSuccess = map[string]map[search.Objective]float64{
	"flat":         {search.MinResources: 0.96, search.Cost: 0.96, search.Balanced: 0.96},
	"cpu-bound":    {search.MinResources: 0.84, search.Cost: 0.91, search.Balanced: 0.84},
	"cpu-timeout":  {search.MinResources: 0.91, search.Cost: 0.95, search.Balanced: 0.86},
	"memory-cliff": {search.MinResources: 0.95, search.Cost: 0.94, search.Balanced: 0.92},
	"mnist-like":   {search.MinResources: 0.83, search.Cost: 0.85, search.Balanced: 0.37},
}

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
	require.LessOrEqual(t, all.Invocations*4, grid.Invocations, "at least 4× fewer invocations than the grid")
	require.Less(t, all.GBSeconds, grid.GBSeconds/2, "less than half the grid's GB-seconds")
	for _, sc := range s.Grid {
		if sc.Function == "memory-cliff" {
			require.Equal(t, sc.Trials, sc.Aborted, "Power Tuning aborts when the smallest size fails")
		}
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
