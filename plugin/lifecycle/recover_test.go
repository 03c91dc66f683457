package lifecycle_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/plugin/registry"
)

// TestRecoverInvalidatesWhatACrashLeftCached: a crash between writing an
// action back and sending its cache invalidation leaves the document right
// and the controllers' cached copy wrong (an unblocked function would keep
// running its stub). Recover finds nothing to write, so it must send the
// invalidations itself, for the function's action and its versions and
// aliases, for every transition it finishes.
func TestRecoverInvalidatesWhatACrashLeftCached(t *testing.T) {
	for _, tc := range []struct {
		name     string
		op       string
		from, to registry.State
	}{
		{"unblock", "unblock", registry.Blocked, registry.Published},
		{"block", "block", registry.Published, registry.Blocked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.into("f", registry.Published)
			_, err := w.ver.SetAlias(w.ctx, "guest", "f", "prod", []registry.Route{{Version: 1, Weight: 100}})
			require.NoError(t, err)
			if tc.op == "unblock" {
				_, err = w.lc.Block(w.ctx, "guest", "f", "incident", "t")
				require.NoError(t, err)
				_, err = w.lc.Unblock(w.ctx, "guest", "f", "t")
			} else {
				_, err = w.lc.Block(w.ctx, "guest", "f", "incident", "t")
			}
			require.NoError(t, err)
			// What a crash after the writes, before the invalidations and
			// the end of the transition, leaves: the intent still recorded.
			_, err = w.reg.Update(w.ctx, "guest", "f", func(f *registry.Function) error {
				f.Transition = &registry.Transition{Op: tc.op, From: tc.from, To: tc.to, By: "t", Started: time.Now().UTC()}
				return nil
			})
			require.NoError(t, err)
			w.acts.mu.Lock()
			w.acts.invalidated = nil
			w.acts.mu.Unlock()

			require.NoError(t, w.lc.Recover(w.ctx))

			require.Equal(t, tc.to, w.state("f"))
			w.acts.mu.Lock()
			defer w.acts.mu.Unlock()
			require.ElementsMatch(t, []string{"guest/f", "guest/f@1", "guest/f@prod"}, w.acts.invalidated)
		})
	}
}
