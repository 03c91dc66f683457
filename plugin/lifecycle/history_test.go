package lifecycle_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/api"
	"github.com/fnmgr/fnmgr/plugin/lifecycle"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/versions"
	"github.com/fnmgr/fnmgr/tests/fnenv"
)

// TestHistoryHasOneEntryPerOperation is issue 16 item 6: every operation
// that changes a function is one history entry with its op, who, when,
// the states it passed through (UPDATING with how long it lasted) and the
// outcome; the fields {at, from, to, by, reason, revision} stay.
func TestHistoryHasOneEntryPerOperation(t *testing.T) {
	e := fnenv.New(t, "couch", 50)
	lc := lifecycle.New(lifecycle.Options{Registry: e.Reg, Versions: e.Ctl, Invoker: slowInvoker{fakeInvoker{e}}})
	ctx := versions.WithBy(e.Ctx, "alice")
	e.Put("h", "nodejs:20", "function main(){return {v:1}}", 256, nil)
	e.WaitRevisions("h", 1)

	_, err := e.Ctl.Publish(ctx, "guest", "h", "first", "alice")
	require.NoError(t, err)
	_, err = e.Ctl.SetAlias(ctx, "guest", "h", "prod", []registry.Route{{Version: 1, Weight: 100}})
	require.NoError(t, err)
	_, err = lc.Block(ctx, "guest", "h", "incident", "bob")
	require.NoError(t, err)
	spoof(t, e, "guest/h") // a write while blocked: recorded, the stub put back
	e.WaitRevisions("h", 2)
	_, err = lc.Unblock(ctx, "guest", "h", "bob")
	require.NoError(t, err)
	code := "function main(){return {v:3}}"
	_, err = lc.Update(ctx, "guest", "h", api.UpdateRequest{Exec: &entity.ExecPut{Kind: "nodejs:20", Code: &code},
		Test: json.RawMessage(`{}`)}, "carol")
	require.NoError(t, err)
	broken := "function main(){ broken() }"
	_, err = lc.Update(ctx, "guest", "h", api.UpdateRequest{Exec: &entity.ExecPut{Kind: "nodejs:20", Code: &broken},
		Test: json.RawMessage(`{}`)}, "carol")
	require.ErrorIs(t, err, lifecycle.ErrUpdateFailed)
	_, err = e.Ctl.Rollback(ctx, "guest", "h", 1)
	require.NoError(t, err)
	require.NoError(t, e.Ctl.DeleteAlias(ctx, "guest", "h", "prod"))
	_, err = lc.Retire(ctx, "guest", "h", "replaced", "dave", time.Hour)
	require.NoError(t, err)

	hist, err := lc.History(ctx, "guest", "h")
	require.NoError(t, err)
	var ops []string
	for _, h := range hist {
		ops = append(ops, h.Op)
		require.NotEmpty(t, h.By, "%s names who", h.Op)
		require.False(t, h.At.IsZero(), "%s says when", h.Op)
		require.False(t, h.Started.After(h.At), "%s started before it ended", h.Op)
		require.NotEmpty(t, h.Outcome, "%s has an outcome", h.Op)
		require.GreaterOrEqual(t, len(h.States), 2, "%s lists the states it passed", h.Op)
		require.Equal(t, h.From, h.States[0].State, "%+v", h)
		require.Equal(t, h.To, h.States[len(h.States)-1].State, "%+v", h)
	}
	require.Equal(t, []string{"publish", "alias", "block", "outside-change", "unblock", "update", "update", "rollback",
		"alias-delete", "retire"}, ops)
	byOp := func(i int) registry.History { return hist[i] }

	pub := byOp(0)
	require.Equal(t, registry.Latest, pub.From)
	require.Equal(t, registry.Published, pub.To)
	require.Equal(t, 1, pub.Version)
	require.Equal(t, "alice", pub.By)
	require.Equal(t, "prod", byOp(1).Alias)
	require.Equal(t, []registry.Route{{Version: 1, Weight: 100}}, byOp(1).Routing)
	require.Equal(t, "alice", byOp(1).By, "who, from the request's context")

	block := byOp(2)
	require.Equal(t, "bob", block.By)
	require.Equal(t, "incident", block.Reason)
	require.Equal(t, []registry.StateStay{{State: registry.Published}, {State: registry.Blocked}}, block.States)
	require.Equal(t, registry.Blocked, byOp(3).To)
	require.Equal(t, 2, byOp(3).Revision, "the outside change names the revision it recorded")

	upd := byOp(5)
	require.Equal(t, registry.OutcomeOK, upd.Outcome)
	require.Len(t, upd.States, 3)
	require.Equal(t, registry.Updating, upd.States[1].State)
	require.GreaterOrEqual(t, upd.States[1].DurationMs, testTime.Milliseconds(), "how long UPDATING lasted")
	require.Equal(t, registry.Latest, upd.To)
	require.Positive(t, upd.DurationMs)

	failed := byOp(6)
	require.Equal(t, registry.OutcomeFailed, failed.Outcome)
	require.Contains(t, failed.Error, "test invocation failed")
	require.Contains(t, failed.Reason, "update failed")
	require.Equal(t, registry.Updating, failed.States[1].State)
	require.Equal(t, registry.Latest, failed.To, "back where it was")

	require.Equal(t, 1, byOp(7).Version)
	require.Equal(t, registry.Retired, byOp(9).To)
	require.Equal(t, "dave", byOp(9).By)
}

// testTime is how long slowInvoker's test invocations take.
const testTime = 30 * time.Millisecond

// slowInvoker is a test invocation that takes testTime, so that an
// update's UPDATING lasts a known time.
type slowInvoker struct{ fakeInvoker }

func (s slowInvoker) Invoke(ctx context.Context, ns, action string, p json.RawMessage) (json.RawMessage, error) {
	t := time.NewTimer(testTime)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.fakeInvoker.Invoke(ctx, ns, action, p)
}

// TestHistoryEntryRecordedOnceAcrossRecover: a transition whose entry was
// recorded just before a crash (the intent not yet cleared) is finished
// again by Recover without a second entry.
func TestHistoryEntryRecordedOnceAcrossRecover(t *testing.T) {
	e, lc := newLC(t)
	ctx := e.Ctx
	e.Put("once", "nodejs:20", "function main(){return {}}", 256, nil)
	e.WaitRevisions("once", 1)
	started := time.Now().UTC()
	intent := func() {
		_, err := e.Reg.Update(ctx, "guest", "once", func(f *registry.Function) error {
			f.Transition = &registry.Transition{Op: "block", From: registry.Latest, To: registry.Blocked, By: "ops", Started: started}
			f.PrevState, f.State = registry.Latest, registry.Blocked
			return nil
		})
		require.NoError(t, err)
	}
	intent()
	require.NoError(t, lc.Recover(ctx))
	intent() // the crash: the same intent still recorded after its entry was written
	require.NoError(t, lc.Recover(ctx))
	hist, err := lc.History(ctx, "guest", "once")
	require.NoError(t, err)
	require.Len(t, hist, 1)
	require.Equal(t, "block", hist[0].Op)
}
