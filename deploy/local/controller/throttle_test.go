package controller

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func intPtr(v int) *int { return &v }

func TestLimitFor(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		system      int
		override    *int
		controllers int
		divide      bool
		want        int
	}{
		{"system", 60, nil, 1, true, 60},
		{"override raises", 60, intPtr(100000), 1, true, 100000},
		{"override lowers", 60, intPtr(3), 1, true, 3},
		{"zero blocks", 60, intPtr(0), 2, true, 0},
		{"divided among controllers", 60, nil, 2, true, 30},
		{"at least 1 once divided", 1, nil, 3, true, 1},
		{"shared (scheduler) not divided", 30, nil, 2, false, 30},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, limitFor(tc.system, tc.override, tc.controllers, tc.divide))
		})
	}
}

// TestRateWindow checks RateThrottler's minute of the clock: every charge
// counts, refused or not, and a new minute starts from zero.
func TestRateWindow(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 10, 0, 59, 0, time.UTC)
	w := newRateWindow(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	for i := 1; i <= 3; i++ {
		require.Equal(t, i, w.charge("a"))
	}
	require.Equal(t, 1, w.charge("b"), "per namespace")
	mu.Lock()
	now = now.Add(time.Second) // 10:01:00
	mu.Unlock()
	require.Equal(t, 1, w.charge("a"), "a new minute")
}

func TestThrottleMessages(t *testing.T) {
	t.Parallel()
	// ErrorResponse.scala Messages.tooManyRequests / tooManyConcurrentRequests.
	require.Equal(t, "Too many requests in the last minute (count: 61, allowed: 60).", msgTooManyRequests(61, 60))
	require.Equal(t, "Too many concurrent requests in flight (count: 30, allowed: 30).", msgTooManyConcurrent(30, 30))
}
