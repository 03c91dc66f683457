package lifecycle_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/api"
	"github.com/fnmgr/fnmgr/plugin/lifecycle"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/tests/fnenv"
)

// appended is what an attacker adds to a copied stub: a later function
// declaration wins in JavaScript, so this main would run.
const appended = "\nfunction main(){ return {pwned: true} }\n"

// spoof writes docid as a user would with `wsk action update` on the
// controller: the code fnmgr's stub has now, with user code appended, and
// the stub's kind and annotations (fnmgr's markers included: a user can
// copy them).
func spoof(t *testing.T, e *fnenv.Env, docid string) string {
	t.Helper()
	cur := e.Action(docid)
	code := e.Code(docid) + appended
	for attempt := 0; ; attempt++ {
		cur = e.Action(docid)
		next := cur
		next.Exec = entity.Exec{Kind: cur.Exec.Kind}
		next.Attachments = nil
		_, err := e.Whisks.PutAction(e.Ctx, next, []byte(code), entity.TextContentType)
		if err == nil {
			return code
		}
		require.Less(t, attempt, 20, "write %s: %v", docid, err)
	}
}

// TestCopiedStubWithAppendedCodeNeverRuns is issue 16 item 1: a stub is
// recognised only as exactly what fnmgr wrote, so a copy of it with code
// appended is a user's change: recorded as a revision of the function (or
// reverted, for name@N and aliases) and replaced by the stub again.
func TestCopiedStubWithAppendedCodeNeverRuns(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state registry.State
	}{
		{"blocked", registry.Blocked},
		{"retired", registry.Retired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, lc := newLC(t)
			ctx := e.Ctx
			e.Put("s", "nodejs:20", "function main(){return {v:1}}", 256, nil)
			e.WaitRevisions("s", 1)
			_, err := e.Ctl.Publish(ctx, "guest", "s", "", "t")
			require.NoError(t, err)
			_, err = e.Ctl.SetAlias(ctx, "guest", "s", "prod", []registry.Route{{Version: 1, Weight: 100}})
			require.NoError(t, err)
			if tc.state == registry.Blocked {
				_, err = lc.Block(ctx, "guest", "s", "incident", "ops")
			} else {
				_, err = lc.Retire(ctx, "guest", "s", "replaced", "ops", time.Hour)
			}
			require.NoError(t, err)
			stubs := map[string]string{}
			for _, id := range []string{"guest/s", "guest/s@1", "guest/s@prod"} {
				stubs[id] = e.Code(id)
				require.Contains(t, stubs[id], string(tc.state))
			}

			written := spoof(t, e, "guest/s")
			f := e.WaitRevisions("s", 2)
			require.Equal(t, tc.state, f.State, "the function stays %s", tc.state)
			rev, err := e.Reg.GetRevision(ctx, "guest", "s", 2)
			require.NoError(t, err)
			require.Equal(t, entity.Digest([]byte(written)), rev.Snapshot.Exec.CodeDigest, "the write is recorded as it was made")
			require.Eventually(t, func() bool { return !strings.Contains(e.Code("guest/s"), "pwned") },
				5*time.Second, 10*time.Millisecond, "the stub is back on guest/s")
			require.Contains(t, e.Code("guest/s"), string(tc.state))

			for _, id := range []string{"guest/s@1", "guest/s@prod"} {
				spoof(t, e, id)
				require.Eventually(t, func() bool { return e.Code(id) == stubs[id] },
					5*time.Second, 10*time.Millisecond, "%s is reverted to fnmgr's stub", id)
			}
			// A revert is written before its history entry: await the entry.
			var changes []string
			require.Eventually(t, func() bool {
				hist, err := lc.History(ctx, "guest", "s")
				if err != nil {
					return false
				}
				changes = changes[:0]
				for _, h := range hist {
					if h.Op == "outside-change" {
						changes = append(changes, h.Reason)
					}
				}
				return len(changes) >= 3
			}, 5*time.Second, 10*time.Millisecond, "the write on s and the reverted writes on s@1 and s@prod are in the history: %q", changes)
			require.Len(t, changes, 3, "each once: %q", changes)
			require.Contains(t, changes[1], "guest/s@1")
			require.Contains(t, changes[2], "guest/s@prod")
		})
	}
}

// blockingInvoker holds every test invocation until release is closed.
type blockingInvoker struct {
	started chan struct{}
	release chan struct{}
}

func (b *blockingInvoker) Invoke(ctx context.Context, _, _ string, _ json.RawMessage) (json.RawMessage, error) {
	close(b.started)
	select {
	case <-b.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return json.RawMessage(`{}`), nil
}

// TestCopiedStubWhileUpdatingIsReplaced: while an update's test invocation
// runs (UPDATING), a copied stub with appended code written on the
// controller is replaced by the stub again, without waiting for the
// update to end; the update's outcome stands.
func TestCopiedStubWhileUpdatingIsReplaced(t *testing.T) {
	e := fnenv.New(t, "couch", 50)
	inv := &blockingInvoker{started: make(chan struct{}), release: make(chan struct{})}
	var once sync.Once
	release := func() { once.Do(func() { close(inv.release) }) }
	t.Cleanup(release) // before the env's own cleanups, which wait for the feed
	lc := lifecycle.New(lifecycle.Options{Registry: e.Reg, Versions: e.Ctl, Invoker: inv})
	ctx := e.Ctx
	e.Put("u", "nodejs:20", "function main(){return {v:1}}", 256, nil)
	e.WaitRevisions("u", 1)
	code := "function main(){return {v:2}}"
	done := make(chan error, 1)
	go func() {
		_, err := lc.Update(ctx, "guest", "u", api.UpdateRequest{Exec: &entity.ExecPut{Kind: "nodejs:20", Code: &code},
			Test: json.RawMessage(`{}`)}, "ops")
		done <- err
	}()
	<-inv.started
	require.Contains(t, e.Code("guest/u"), "UPDATING")
	spoof(t, e, "guest/u")
	require.Eventually(t, func() bool {
		c := e.Code("guest/u")
		return !strings.Contains(c, "pwned") && strings.Contains(c, "UPDATING")
	}, 5*time.Second, 10*time.Millisecond, "the stub is back while the update still runs")
	release()
	require.NoError(t, <-done)
	require.Equal(t, code, e.Code("guest/u"), "the update's outcome stands")
}

// TestDeleteAndRecreateStaysRetired is issue 16 item 9: a blocked function
// deleted on the controller is RETIRED; created again within the grace
// period it gets the stub (the write recorded); only after the purge does
// the name start a new function, with the old history kept.
func TestDeleteAndRecreateStaysRetired(t *testing.T) {
	e, lc := newLC(t)
	ctx := e.Ctx
	e.Put("a1", "nodejs:20", "function main(){return {v:1}}", 256, nil)
	e.WaitRevisions("a1", 1)
	_, err := lc.Block(ctx, "guest", "a1", "incident", "ops")
	require.NoError(t, err)
	e.Delete("guest/a1")
	require.Eventually(t, func() bool {
		f, err := e.Reg.GetFunction(ctx, "guest", "a1")
		return err == nil && f.State == registry.Retired && f.Gone
	}, 5*time.Second, 10*time.Millisecond)
	f, err := e.Reg.GetFunction(ctx, "guest", "a1")
	require.NoError(t, err)
	require.NotNil(t, f.PurgeAt, "a function deleted outside fnmgr is purged after the grace period")

	e.Put("a1", "nodejs:20", "function main(){return {v:'new'}}", 256, nil)
	f = e.WaitRevisions("a1", 2)
	require.Equal(t, registry.Retired, f.State, "re-created within the grace period: still RETIRED")
	require.Eventually(t, func() bool {
		c := e.Code("guest/a1")
		return strings.Contains(c, "RETIRED") && !strings.Contains(c, "new")
	}, 5*time.Second, 10*time.Millisecond, "the re-created action gets the stub")
	// The re-creation's history entry is written after the stub: await it.
	var hist []registry.History
	require.Eventually(t, func() bool {
		var err error
		hist, err = lc.History(ctx, "guest", "a1")
		return err == nil && slices.ContainsFunc(hist, func(h registry.History) bool { return h.Op == "outside-change" && h.Revision == 2 })
	}, 5*time.Second, 10*time.Millisecond, "the re-creation is in the history")

	_, err = e.Reg.Update(ctx, "guest", "a1", func(f *registry.Function) error {
		past := time.Now().Add(-time.Second)
		f.PurgeAt = &past
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, lc.PurgeDue(ctx))
	require.Eventually(t, func() bool {
		f, err := e.Reg.GetFunction(ctx, "guest", "a1")
		return err == nil && f.Purged && f.Gone
	}, 5*time.Second, 10*time.Millisecond)

	e.Put("a1", "nodejs:20", "function main(){return {v:'life2'}}", 256, nil)
	require.Eventually(t, func() bool {
		f, err := e.Reg.GetFunction(ctx, "guest", "a1")
		return err == nil && f.State == registry.Latest && !f.Purged && !f.Gone
	}, 5*time.Second, 10*time.Millisecond, "after the purge the name starts a new function: %+v", func() any { f, _ := e.Reg.GetFunction(ctx, "guest", "a1"); return f }())
	require.Never(t, func() bool { return e.Code("guest/a1") != "function main(){return {v:'life2'}}" },
		300*time.Millisecond, 20*time.Millisecond, "the new function's code stays")
	after, err := lc.History(ctx, "guest", "a1")
	require.NoError(t, err)
	require.Greater(t, len(after), len(hist), "the old history is kept")
	require.Equal(t, hist, after[:len(hist)])
}
