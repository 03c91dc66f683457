package feed

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestLagMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	written := time.Now().Add(-3 * time.Second).UnixMilli()
	doc := func(v any) json.RawMessage { b, _ := json.Marshal(map[string]any{"updated": v}); return b }
	tests := []struct {
		name   string
		c      Change
		live   bool
		counts string // lag sample counts by phase after this change
	}{
		{"catch-up document", Change{ID: "guest/a", Doc: doc(written)}, false, "catchup=1 live=0"},
		{"live document", Change{ID: "guest/a", Doc: doc(written)}, true, "catchup=1 live=1"},
		{"deletion: no updated", Change{ID: "guest/a", Deleted: true, Doc: json.RawMessage(`{"_id":"guest/a"}`)}, true, "catchup=1 live=1"},
		{"registry document: updated is a time string", Change{ID: "f:x", Doc: doc("2026-01-01T00:00:00Z")}, true, "catchup=1 live=1"},
		{"design document", Change{ID: "_design/x", Doc: json.RawMessage(`{"views":{}}`)}, true, "catchup=1 live=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m.processed(tc.c, tc.live)
			require.Equal(t, tc.counts, fmt.Sprintf("catchup=%d live=%d", sampleCount(t, reg, "catchup"), sampleCount(t, reg, "live")))
		})
	}
	since := testutil.ToFloat64(prometheus.Collector(mustGauge(t, reg)))
	require.Less(t, since, 1.0, "a change was processed just now")

	var nilM *Metrics
	nilM.processed(Change{Doc: doc(written)}, true) // records nothing, no panic
}

// sampleCount is the lag histogram's sample count for phase.
func sampleCount(t *testing.T, reg *prometheus.Registry, phase string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "fnmgr_feed_lag_seconds" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "phase" && l.GetValue() == phase {
					h := mt.GetHistogram()
					if phase == "live" && h.GetSampleCount() > 0 {
						require.GreaterOrEqual(t, h.GetSampleSum(), 2.9, "about 3 s behind")
					}
					return h.GetSampleCount()
				}
			}
		}
	}
	return 0
}

func mustGauge(t *testing.T, reg *prometheus.Registry) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if strings.HasSuffix(mf.GetName(), "seconds_since_last_change") {
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x", Help: "x"})
			g.Set(mf.GetMetric()[0].GetGauge().GetValue())
			return g
		}
	}
	t.Fatal("no seconds_since_last_change gauge")
	return nil
}
