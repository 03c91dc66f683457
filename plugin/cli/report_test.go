package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/plugin/client"
)

// TestReportShapes: the result table of reports shaped like the
// optimizer's (the points measured inside "active") and of flat ones.
func TestReportShapes(t *testing.T) {
	tests := []struct {
		name   string
		report string
		want   []string // lines, trimmed, in order
	}{
		{"optimizer report", `{"function":"guest/hello","mode":"active","objective":"min-resources","current":{"memoryMB":256},
			"candidates":[128,256,512],
			"active":{"decision":{"memoryMB":128,"why":"within 10% of the best"},"points":[
				{"memoryMB":128,"feasibility":"feasible","cold":[{"ms":300}],"warm":[{"ms":20},{"ms":21}],"stats":{"n":2,"medianMs":20.5},"gbSeconds":0.0025},
				{"memoryMB":256,"feasibility":"feasible","cold":[],"warm":[{"ms":19}],"stats":{"n":1,"medianMs":19},"gbSeconds":0.0047}],"settled":true},
			"recommendation":{"memoryMB":128,"source":"active","why":"smallest within tolerance"},"invocations":6}`,
			[]string{"function:", "current.memoryMB:", "candidates:", "[128,256,512]", "active.decision:", "active.settled:", "recommendation.memoryMB: 128",
				"active.points",
				"memoryMB feasibility cold warm stats.n stats.medianMs gbSeconds",
				"128 feasible 1 items (see --json) 2 items (see --json) 2 20.5 0.0025"}},
		{"no table", `{"recommendation":{"memoryMB":128}}`, []string{"recommendation.memoryMB: 128"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, optimizationResult(&b, "hello", client.Optimization{ID: "x", Status: "succeeded", Report: json.RawMessage(tc.report)}))
			out := strings.Join(strings.Fields(strings.ReplaceAll(b.String(), "\n", " \n ")), " ")
			at := 0
			for _, w := range tc.want {
				i := strings.Index(out[at:], w)
				require.GreaterOrEqual(t, i, 0, "%q after byte %d of:\n%s", w, at, out)
				at += i
			}
			require.NotContains(t, out, `"ms"`, "observations are not dumped")
		})
	}
}
