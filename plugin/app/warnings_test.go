package app

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/plugin/config"
)

// TestActivityWarnings: /readyz warns, naming the prefixed topic and the
// OpenWhisk setting that turns it on, when no ping or no event arrived in
// the last minute, and stops warning once one has.
func TestActivityWarnings(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	recent, old := now.Add(-10*time.Second), now.Add(-2*time.Minute)
	tests := []struct {
		name          string
		ping, event   time.Time
		maxMemory     int
		want          []string // each warning contains these, in order
		wantNoWarning bool
	}{
		{name: "pings and events", ping: recent, event: recent, wantNoWarning: true},
		{name: "nothing since start", want: []string{"owp_health", "owe_events"}},
		{name: "scheduler mode: no pings", ping: time.Time{}, event: recent, want: []string{"--max-memory (FNMGR_MAX_MEMORY)"}},
		{name: "no pings, MAX_MEMORY configured", ping: old, event: recent, maxMemory: 2048, want: []string{"configured 2048 MB"}},
		{name: "user events off", ping: recent, event: old, want: []string{"metrics.userMetricsEnabled=true"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.KafkaTopicPrefix, cfg.UserEventsTopicPrefix, cfg.MaxMemoryMB = "owp_", "owe_", tc.maxMemory
			got := activityWarnings(cfg, func() time.Time { return tc.ping }, func() time.Time { return tc.event },
				func() time.Time { return now })(t.Context())
			if tc.wantNoWarning {
				require.Empty(t, got)
				return
			}
			require.Len(t, got, len(tc.want))
			for i, w := range tc.want {
				require.Contains(t, got[i], w)
			}
		})
	}
}
