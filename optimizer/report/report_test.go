package report

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/optimizer/search"
)

func pt(m int, ms float64) search.Point {
	return search.Point{MemoryMB: m, Feasibility: search.Feasible, GBSeconds: search.GBSeconds(m, ms),
		Stats: search.Summary{N: 3, MedianMs: ms, CILowMs: ms * 0.95, CIHighMs: ms * 1.05}}
}

func TestEstimateSaving(t *testing.T) {
	points := []search.Point{{MemoryMB: 128, Feasibility: search.Infeasible, Failure: search.OOM},
		pt(256, 800), pt(1024, 200), pt(2048, 200)}
	for _, tc := range []struct {
		name              string
		current, rec      int
		recMs             float64
		currentMs         float64
		estimated, infeas bool
		savedPct          float64
	}{
		{"current measured", 2048, 1024, 200, 200, false, false, 50},
		{"current interpolated in log-log", 512, 1024, 200, 400, true, false, 0},
		{"current above every size", 3072, 1024, 200, 200, true, false, 66.67},
		{"current infeasible", 128, 256, 800, 0, false, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := EstimateSaving(points, tc.current, tc.rec, tc.recMs)
			require.NotNil(t, s)
			require.Equal(t, tc.infeas, s.CurrentInfeasible)
			if tc.infeas {
				return
			}
			require.InDelta(t, tc.currentMs, s.CurrentMs, 0.5)
			require.Equal(t, tc.estimated, s.CurrentEstimated)
			require.InDelta(t, tc.savedPct, s.GBSecondsSavedPct, 0.05)
			require.Equal(t, tc.current-tc.rec, s.MemorySavedMB)
		})
	}
	require.Nil(t, EstimateSaving(points, 0, 256, 800))
}

func TestChart(t *testing.T) {
	r := Report{Function: "guest/<mnist>", Objective: search.MinResources, Tolerance: 0.05,
		Current: Setting{MemoryMB: 3072}, Invocations: 12, GBSeconds: 40.5,
		Active: &search.Result{Points: []search.Point{{MemoryMB: 128, Feasibility: search.Infeasible, Failure: search.OOM},
			pt(640, 4700), pt(1024, 2670), pt(3072, 2670)}},
		Passive:        &Passive{search.PassiveResult{Sizes: []search.Sample{{MemoryMB: 2048, Count: 40, MedianMs: 2700}}}},
		Recommendation: &Recommendation{Setting: Setting{MemoryMB: 1024}, Source: "active"}}
	svg := Chart(r)
	requireWellFormed(t, svg)
	s := string(svg)
	require.True(t, strings.HasPrefix(s, "<svg"))
	require.Contains(t, s, "chosen 1024 MB")
	require.Contains(t, s, "current 3072 MB")
	require.Contains(t, s, "out-of-memory")
	require.Contains(t, s, "guest/&lt;mnist&gt;", "text is escaped")
	require.Contains(t, s, "real traffic")

	empty := Chart(Report{Function: "guest/x"})
	requireWellFormed(t, empty)
	require.Contains(t, string(empty), "no measurement yet")
}

func requireWellFormed(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		require.NoError(t, err)
	}
}
