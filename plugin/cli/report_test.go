package cli

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/optimizer/report"
	"github.com/fnmgr/fnmgr/optimizer/search"
	"github.com/fnmgr/fnmgr/plugin/client"
)

// TestOptimizationSummary: a report as the optimizer writes it (its own
// types, marshalled) reads as a summary and a table of rounded numbers.
func TestOptimizationSummary(t *testing.T) {
	obs := func(n int, ms float64) []search.Observation {
		out := make([]search.Observation, n)
		for i := range out {
			out[i] = search.Observation{DurationMs: ms}
		}
		return out
	}
	rep := report.Report{Function: "guest/hello", Current: report.Setting{MemoryMB: 512},
		Active: &search.Result{Decision: search.Decision{MemoryMB: 256}, Settled: true, BestMs: 50.99507194755425,
			Points: []search.Point{
				{MemoryMB: 128, Feasibility: search.Infeasible, Failure: search.OOM, Cold: obs(1, 20)},
				{MemoryMB: 256, Feasibility: search.Feasible, Cold: obs(1, 400), Warm: obs(4, 210.4),
					Stats: search.Summary{N: 4, MedianMs: 216.3333333, CILowMs: 205.49728326361105, CIHighMs: 230.1}, GBSeconds: 0.0540833333},
				{MemoryMB: 512, Feasibility: search.Feasible, Cold: obs(1, 380), Warm: obs(3, 208),
					Stats: search.Summary{N: 3, MedianMs: 208.7, CILowMs: 199.2, CIHighMs: 221.9}, GBSeconds: 0.104},
			}},
		Recommendation: &report.Recommendation{Setting: report.Setting{MemoryMB: 256}, Source: "active", Why: "the smallest within 5%"},
		Saving: &report.Saving{CurrentMs: 208.7, RecommendedMs: 216.3333333, CurrentGBSeconds: 0.104, RecommendedGBs: 0.0540833333,
			GBSecondsSavedPct: 47.99679, MemorySavedMB: 256, SlowdownPct: 3.657},
		Invocations: 11, GBSeconds: 0.81234567, Warnings: []string{"the namespace's throttle refused 1 probe invocation(s) with 429"}}
	raw, err := json.Marshal(rep)
	require.NoError(t, err)
	var b bytes.Buffer
	chart := chartURL("http://127.0.0.1:3235", "guest", "hello", "x1")
	require.NoError(t, optimizationResult(&b, "hello", chart, client.Optimization{ID: "x1", Status: "succeeded",
		Progress: client.Progress{Done: 11, Total: 15}, Report: decodeReport(t, raw)}))
	out := b.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^recommended: +256 MB \(now 512 MB\)$`),
		regexp.MustCompile(`(?m)^time: +\+4% \(209 ms → 216 ms per invocation\)$`),
		regexp.MustCompile(`(?m)^cost: +-48% \(0\.104 → 0\.0541 GB-s per invocation\)$`),
		regexp.MustCompile(`(?m)^confidence: +settled`),
		regexp.MustCompile(`(?m)^invocations: +11 of 15 \(0\.812 GB-s\)$`),
		regexp.MustCompile(`(?m)^chart: +http://127\.0\.0\.1:3235/v1/namespaces/guest/functions/hello/optimizations/x1/chart\.svg$`),
		regexp.MustCompile(`(?m)^MEMORY +RESULT +RUNS \(COLD\+WARM\) +MEDIAN +95% RANGE +GB-S/INVOCATION`),
		regexp.MustCompile(`(?m)^128 MB +infeasible \(out-of-memory\) +1\+0 +- +- +-`),
		regexp.MustCompile(`(?m)^256 MB +feasible +1\+4 +216 ms +205 ms–230 ms +0\.0541 +←$`),
		regexp.MustCompile(`(?m)^512 MB +feasible +1\+3 +209 ms +199 ms–222 ms +0\.104`),
		regexp.MustCompile(`(?m)^  - the namespace's throttle refused 1`),
	} {
		require.Regexp(t, want, out)
	}
	require.NotRegexp(t, `\.0*[1-9]\d{3,}`, out, "no long decimals: %s", out)
	require.NotContains(t, out, "see --json")

	t.Run("uncertain and predicted", func(t *testing.T) {
		// The search's uncertain flag and range (optimizer/search.Result's
		// uncertain and rangeMB), laid over the report.
		rep.Recommendation.Predicted = true
		raw, err := json.Marshal(rep)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		m["active"].(map[string]any)["uncertain"] = true
		m["active"].(map[string]any)["rangeMB"] = []int{192, 320}
		raw, err = json.Marshal(m)
		require.NoError(t, err)
		var b bytes.Buffer
		require.NoError(t, optimizationResult(&b, "hello", "", client.Optimization{ID: "x1", Status: "succeeded", Report: decodeReport(t, raw)}))
		require.Contains(t, b.String(), "predicted by the fit: not measured")
		require.Contains(t, b.String(), "uncertain: sizes from 192 to 320 MB")
	})
	t.Run("no warm measurement at the recommended size", func(t *testing.T) {
		r := rep
		r.Saving = nil // the optimizer's EstimateSaving without a median there
		raw, err := json.Marshal(r)
		require.NoError(t, err)
		var b bytes.Buffer
		require.NoError(t, optimizationResult(&b, "hello", "", client.Optimization{ID: "x1", Status: "succeeded", Report: decodeReport(t, raw)}))
		require.Regexp(t, `(?m)^time: +unknown: 256 MB has no warm measurement \(see the table\)$`, b.String())
		require.NotRegexp(t, `(?m)^cost:`, b.String())
	})
	t.Run("under OpenWhisk's resolution", func(t *testing.T) {
		r := rep
		r.Saving = nil // EstimateSaving of a median of 0 ms
		r.Active = &search.Result{Decision: search.Decision{MemoryMB: 128}, Points: []search.Point{
			{MemoryMB: 128, Feasibility: search.Feasible, Cold: obs(1, 3), Warm: obs(2, 0), Stats: search.Summary{N: 2}},
			{MemoryMB: 256, Feasibility: search.Feasible, Cold: obs(1, 2), Warm: obs(2, 1), Stats: search.Summary{N: 2, MedianMs: 1}, GBSeconds: 0.00025},
		}}
		r.Recommendation = &report.Recommendation{Setting: report.Setting{MemoryMB: 128}, Source: "active"}
		raw, err := json.Marshal(r)
		require.NoError(t, err)
		var b bytes.Buffer
		require.NoError(t, optimizationResult(&b, "hello", "", client.Optimization{ID: "x1", Status: "succeeded", Report: decodeReport(t, raw)}))
		require.Regexp(t, `(?m)^time: +under 1 ms per invocation at 128 MB, below OpenWhisk's resolution of 1 ms`, b.String())
		require.Regexp(t, `(?m)^128 MB +feasible +1\+2 +<1 ms +`, b.String())
	})
	t.Run("failed without a report", func(t *testing.T) {
		var b bytes.Buffer
		require.NoError(t, optimizationResult(&b, "hello", "", client.Optimization{ID: "x1", Status: "failed", Error: "activation a1 did not complete"}))
		require.Equal(t, "optimization x1 of hello: failed\nerror: activation a1 did not complete\n", b.String())
	})
}

// decodeReport is the report as the client decodes it from the API.
func decodeReport(t *testing.T, raw []byte) *report.Report {
	t.Helper()
	var r report.Report
	require.NoError(t, json.Unmarshal(raw, &r))
	return &r
}

func TestRounding(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{ms(50.99507194755425), "51 ms"}, {ms(4.26), "4.3 ms"}, {ms(12345), "12.3 s"},
		{sig(0.0540833333), "0.0541"}, {sig(0), "0"}, {pct(-47.99679), "-48%"}, {pct(3.4), "+3%"}, {pct(0.2), "±0%"},
		{strings.TrimSpace(pct(change(200, 100))), "-50%"},
	} {
		require.Equal(t, tc.want, tc.got)
	}
}
