package versions_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/feed"
	"github.com/fnmgr/fnmgr/plugin/registry"
)

// TestDeletionRecordedOnce: an action deleted outside fnmgr is one
// "delete" history entry, however often the change feed hands the
// deletion over (a restart replays what was not checkpointed), and also
// when a crash came between marking the function gone and recording the
// entry.
func TestDeletionRecordedOnce(t *testing.T) {
	deletes := func(e *env, name string) []registry.History {
		h, err := e.Reg.History(e.Ctx, "guest", name)
		require.NoError(t, err)
		var out []registry.History
		for _, x := range h {
			if x.Op == "delete" {
				out = append(out, x)
			}
		}
		return out
	}
	replay := func(e *env, name string) {
		for range 2 {
			require.NoError(t, e.Ctl.Observe(e.Ctx, feed.Change{ID: "guest/" + name, Deleted: true}))
		}
	}

	t.Run("replayed", func(t *testing.T) {
		e := newEnv(t, "couch")
		e.put("gone", "function main(){return {}}", 256)
		e.waitRevisions("gone", 1)
		e.Delete("guest/gone")
		require.Eventually(t, func() bool { return len(deletes(e, "gone")) == 1 }, 5*time.Second, 20*time.Millisecond)
		e.Stop()
		replay(e, "gone")
		h := deletes(e, "gone")
		require.Len(t, h, 1, "recorded once")
		require.Equal(t, registry.Latest, h[0].From)
		require.Equal(t, registry.Retired, h[0].To)
	})

	t.Run("crash before the entry", func(t *testing.T) {
		e := newEnv(t, "couch")
		e.put("cut", "function main(){return {}}", 256)
		e.waitRevisions("cut", 1)
		e.Stop()
		// What observing the deletion wrote before the crash: the function
		// gone and retired, no history entry yet.
		at := time.Now().UTC()
		_, err := e.Reg.Update(e.Ctx, "guest", "cut", func(f *registry.Function) error {
			f.Gone, f.GoneAt = true, &at
			f.PrevState, f.State, f.Reason = f.State, registry.Retired, "deleted outside fnmgr"
			return nil
		})
		require.NoError(t, err)
		require.Empty(t, deletes(e, "cut"))
		replay(e, "cut")
		h := deletes(e, "cut")
		require.Len(t, h, 1, "recorded once, after the crash")
		require.Equal(t, registry.Latest, h[0].From)
	})
}
