package optimizer_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/optimizer"
	"github.com/fnmgr/fnmgr/optimizer/report"
	"github.com/fnmgr/fnmgr/tests/couchtest"
)

// TestStores runs one script against both stores: what is put is read
// back, overwritten in place, and listed per function only.
func TestStores(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) optimizer.Store
	}{
		{"memory", func(*testing.T) optimizer.Store { return &optimizer.MemoryStore{} }},
		{"couch", func(t *testing.T) optimizer.Store {
			c := couchtest.Client(t)
			return optimizer.CouchStore{DB: couchtest.DB(t, c, couchtest.Prefix(t)+"optimizations")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.store(t)
			ctx := t.Context()
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			a := optimizer.Run{ID: "a1", Namespace: "guest", Name: "hello", Status: optimizer.Running, Created: now}
			b := optimizer.Run{ID: "b2", Namespace: "guest", Name: "pkg/hello", Status: optimizer.Queued, Created: now}
			c := optimizer.Run{ID: "c3", Namespace: "guest", Name: "hello2", Status: optimizer.Queued, Created: now}
			for _, r := range []optimizer.Run{a, b, c} {
				require.NoError(t, s.Put(ctx, r))
			}
			_, err := s.Get(ctx, "guest", "hello", "zz")
			require.ErrorIs(t, err, optimizer.ErrNotFound)

			a.Status = optimizer.Succeeded
			a.Report = &report.Report{Function: "guest/hello", Recommendation: &report.Recommendation{Setting: report.Setting{MemoryMB: 256}}}
			require.NoError(t, s.Put(ctx, a), "a second put overwrites")
			got, err := s.Get(ctx, "guest", "hello", "a1")
			require.NoError(t, err)
			require.Equal(t, optimizer.Succeeded, got.Status)
			require.Equal(t, 256, got.Report.Recommendation.MemoryMB)

			runs, err := s.List(ctx, "guest", "hello")
			require.NoError(t, err)
			require.Len(t, runs, 1, "hello's runs only: not pkg/hello's nor hello2's")
			require.Equal(t, "a1", runs[0].ID)
			all, err := s.List(ctx, "", "")
			require.NoError(t, err)
			require.Len(t, all, 3)
		})
	}
}
