package couch

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLimits is the table of which limits apply to which request.
func TestLimits(t *testing.T) {
	tr := &limitTransport{header: time.Minute, stall: 2 * time.Minute, feedGrace: 10 * time.Second}
	cases := []struct {
		name          string
		url           string
		header, stall time.Duration
	}{
		{"document", "/db/doc", time.Minute, 2 * time.Minute},
		{"view", "/db/_design/d/_view/v?startkey=1", time.Minute, 2 * time.Minute},
		{"normal changes", "/db/_changes?since=0", time.Minute, 2 * time.Minute},
		{"explicit normal feed", "/db/_changes?feed=normal", time.Minute, 2 * time.Minute},
		{"doc named _changes in a view key is ordinary", "/db/_design/_changes", time.Minute, 2 * time.Minute},
		{"continuous, no heartbeat", "/db/_changes?feed=continuous", 0, 0},
		{"longpoll, no heartbeat", "/db/_changes?feed=longpoll", 0, 0},
		{"continuous, heartbeat 5s", "/db/_changes?feed=continuous&heartbeat=5000", 20 * time.Second, 20 * time.Second},
		{"continuous, heartbeat=true", "/db/_changes?feed=continuous&heartbeat=true", 130 * time.Second, 130 * time.Second},
		{"continuous, bad heartbeat", "/db/_changes?feed=continuous&heartbeat=x", 0, 0},
		{"longpoll, timeout 30s", "/db/_changes?feed=longpoll&timeout=30000", 40 * time.Second, 40 * time.Second},
		{"heartbeat wins over timeout", "/db/_changes?feed=longpoll&timeout=30000&heartbeat=1000", 12 * time.Second, 12 * time.Second},
		{"eventsource", "/db/_changes?feed=eventsource", 0, 0},
		{"db updates", "/_db_updates?feed=continuous&heartbeat=1000", 12 * time.Second, 12 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:5984"+tc.url, nil)
			require.NoError(t, err)
			header, stall := tr.limits(req)
			require.Equal(t, tc.header, header, "header")
			require.Equal(t, tc.stall, stall, "stall")
		})
	}
}
