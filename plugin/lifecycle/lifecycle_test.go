package lifecycle_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/api"
	"github.com/fnmgr/fnmgr/plugin/lifecycle"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/versions"
	"github.com/fnmgr/fnmgr/tests/couchtest"
	"github.com/fnmgr/fnmgr/tests/fnenv"
)

func TestMain(m *testing.M) { couchtest.Main(m) }

// fakeInvoker checks the probe copy exists and fails when the code says so.
type fakeInvoker struct{ e *fnenv.Env }

func (f fakeInvoker) Invoke(ctx context.Context, ns, action string, _ json.RawMessage) (json.RawMessage, error) {
	code := f.e.Code(ns + "/" + action)
	if strings.Contains(code, "broken") {
		return nil, errors.New("action developer error")
	}
	return json.RawMessage(`{}`), nil
}

func newLC(t *testing.T) (*fnenv.Env, *lifecycle.Controller) {
	e := fnenv.New(t, "couch", 50)
	return e, lifecycle.New(lifecycle.Options{Registry: e.Reg, Versions: e.Ctl, Invoker: fakeInvoker{e}})
}

// comparable is what unblock must restore exactly.
func comparable(a entity.Action) string {
	b, _ := json.Marshal([]any{a.Exec.Kind, a.Exec.Main, a.Exec.Binary, a.Limits, a.Parameters, registry.UserAnnotations(a.Annotations)})
	return string(b)
}

func TestBlockUnblockRestoresExactly(t *testing.T) {
	e, lc := newLC(t)
	ctx := e.Ctx
	params := entity.KeyValues{}.With("name", "World").With("secret", "s3cr3t")
	e.Put("hello", "nodejs:20", "function main(p){return {hi:p.name}}", 384, params)
	e.WaitRevisions("hello", 1)
	_, err := e.Ctl.Publish(ctx, "guest", "hello", "", "t")
	require.NoError(t, err)
	_, err = e.Ctl.SetAlias(ctx, "guest", "hello", "prod", []registry.Route{{Version: 1, Weight: 100}})
	require.NoError(t, err)
	before := e.Action("guest/hello")
	beforeCode := e.Code("guest/hello")

	f, err := lc.Block(ctx, "guest", "hello", "incident 42", "ops")
	require.NoError(t, err)
	require.Equal(t, registry.Blocked, f.State)
	for _, id := range []string{"guest/hello", "guest/hello@1", "guest/hello@prod"} {
		code := e.Code(id)
		require.True(t, versions.HasStubMarker([]byte(code)), "%s is not a stub: %s", id, code)
		require.Contains(t, code, "guest/hello is BLOCKED")
		require.NotContains(t, code, "s3cr3t")
	}
	again, err := lc.Block(ctx, "guest", "hello", "", "ops")
	require.NoError(t, err, "block of a blocked function is a no-op")
	require.Equal(t, registry.Blocked, again.State)
	_, err = lc.Update(ctx, "guest", "hello", api.UpdateRequest{Parameters: entity.KeyValues{}}, "ops")
	require.ErrorIs(t, err, registry.ErrConflict, "update of a blocked function is 409")

	f, err = lc.Unblock(ctx, "guest", "hello", "ops")
	require.NoError(t, err)
	require.Equal(t, registry.Published, f.State)
	after := e.Action("guest/hello")
	require.Equal(t, comparable(before), comparable(after))
	require.Equal(t, beforeCode, e.Code("guest/hello"))
	require.Equal(t, beforeCode, e.Code("guest/hello@1"))
	require.Equal(t, beforeCode, e.Code("guest/hello@prod"))

	_, err = lc.Unblock(ctx, "guest", "hello", "ops")
	require.ErrorIs(t, err, registry.ErrConflict, "unblock of a running function is 409")
	h, err := lc.History(ctx, "guest", "hello")
	require.NoError(t, err)
	require.Len(t, h, 4, "publish, alias, block, unblock")
	require.Equal(t, "block", h[2].Op)
	require.Equal(t, registry.Blocked, h[2].To)
	require.Equal(t, "incident 42", h[2].Reason)
	require.Equal(t, "unblock", h[3].Op)
	require.Equal(t, registry.Published, h[3].To)
}

func TestChangeWhileBlockedIsRecordedAndStubbedAgain(t *testing.T) {
	e, lc := newLC(t)
	ctx := e.Ctx
	e.Put("b", "nodejs:20", "function main(){return {v:1}}", 256, nil)
	e.WaitRevisions("b", 1)
	_, err := lc.Block(ctx, "guest", "b", "", "ops")
	require.NoError(t, err)

	// wsk action update on the blocked action: the new code is a revision,
	// and the stub is back.
	e.Put("b", "nodejs:20", "function main(){return {v:2}}", 256, nil)
	f := e.WaitRevisions("b", 2)
	require.Equal(t, registry.Blocked, f.State)
	require.Eventually(t, func() bool { return versions.HasStubMarker([]byte(e.Code("guest/b"))) }, 5*time.Second, 10*time.Millisecond)

	_, err = lc.Unblock(ctx, "guest", "b", "ops")
	require.NoError(t, err)
	require.Equal(t, "function main(){return {v:2}}", e.Code("guest/b"), "after unblock the new code runs")
}

func TestUpdate(t *testing.T) {
	e, lc := newLC(t)
	ctx := e.Ctx
	e.Put("u", "nodejs:20", "function main(){return {v:1}}", 256, nil)
	e.WaitRevisions("u", 1)
	code := "function main(){return {v:2}}"
	f, err := lc.Update(ctx, "guest", "u", api.UpdateRequest{
		Exec: &entity.ExecPut{Kind: "nodejs:20", Code: &code}, Limits: &entity.LimitsPut{Memory: ptr(512)},
		Test: json.RawMessage(`{}`)}, "ops")
	require.NoError(t, err)
	require.Equal(t, registry.Latest, f.State)
	require.Equal(t, code, e.Code("guest/u"))
	require.Equal(t, 512, e.Action("guest/u").Limits.Memory)
	_, err = e.Whisks.GetAction(ctx, "guest/u@fnmgr-update", "")
	require.Error(t, err, "the probe copy is removed")

	broken := "function main(){ broken() }"
	_, err = lc.Update(ctx, "guest", "u", api.UpdateRequest{Exec: &entity.ExecPut{Kind: "nodejs:20", Code: &broken},
		Test: json.RawMessage(`{}`)}, "ops")
	require.ErrorIs(t, err, lifecycle.ErrUpdateFailed)
	require.Equal(t, code, e.Code("guest/u"), "a failed update puts back what was there")
	f, err = e.Reg.GetFunction(ctx, "guest", "u")
	require.NoError(t, err)
	require.Equal(t, registry.Latest, f.State)
	h, err := lc.History(ctx, "guest", "u")
	require.NoError(t, err)
	require.Contains(t, h[len(h)-1].Reason, "update failed")
}

func TestRetireAndPurge(t *testing.T) {
	e, lc := newLC(t)
	ctx := e.Ctx
	e.Put("old", "python:3", "def main(a):\n    return {}\n", 256, nil)
	e.WaitRevisions("old", 1)
	_, err := e.Ctl.Publish(ctx, "guest", "old", "", "t")
	require.NoError(t, err)
	f, err := lc.Retire(ctx, "guest", "old", "replaced by new", "ops", time.Hour)
	require.NoError(t, err)
	require.Equal(t, registry.Retired, f.State)
	require.True(t, versions.HasStubMarker([]byte(e.Code("guest/old"))))
	require.Contains(t, e.Code("guest/old"), "def main", "python functions get a python stub")
	_, err = e.Ctl.Publish(ctx, "guest", "old", "", "t")
	require.ErrorIs(t, err, registry.ErrGone)
	require.NoError(t, lc.PurgeDue(ctx))
	_, err = e.Whisks.GetAction(ctx, "guest/old", "")
	require.NoError(t, err, "not purged before its grace period")

	_, err = e.Reg.Update(ctx, "guest", "old", func(f *registry.Function) error {
		past := time.Now().Add(-time.Second)
		f.PurgeAt = &past
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, lc.PurgeDue(ctx))
	for _, id := range []string{"guest/old", "guest/old@1"} {
		_, err = e.Whisks.GetAction(ctx, id, "")
		require.Error(t, err, "%s still exists after the purge", id)
	}
	h, err := lc.History(ctx, "guest", "old")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(h), 2, "history is kept")
	revs, err := e.Reg.Revisions(ctx, "guest", "old", 0, 0)
	require.NoError(t, err)
	require.Empty(t, revs)
}

func TestRecoverFinishesInterruptedBlock(t *testing.T) {
	e, lc := newLC(t)
	ctx := e.Ctx
	e.Put("r", "nodejs:20", "function main(){return {}}", 256, nil)
	e.WaitRevisions("r", 1)
	// A crash right after the intent was recorded.
	_, err := e.Reg.Update(ctx, "guest", "r", func(f *registry.Function) error {
		f.Transition = &registry.Transition{Op: "block", From: registry.Latest, To: registry.Blocked, Started: time.Now()}
		f.PrevState, f.State = f.State, registry.Blocked
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, lc.Recover(ctx))
	f, err := e.Reg.GetFunction(ctx, "guest", "r")
	require.NoError(t, err)
	require.Nil(t, f.Transition)
	require.Equal(t, registry.Blocked, f.State)
	require.True(t, versions.HasStubMarker([]byte(e.Code("guest/r"))))
}

func ptr[T any](v T) *T { return &v }

func TestPurgeLoopWakesOnRetire(t *testing.T) {
	e, lc := newLC(t)
	ctx, cancel := context.WithCancel(e.Ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = lc.Run(ctx, time.Minute) }()
	defer func() { cancel(); <-done }()
	e.Put("soon", "nodejs:20", "function main(){return {}}", 256, nil)
	e.WaitRevisions("soon", 1)
	_, err := lc.Retire(ctx, "guest", "soon", "", "ops", 300*time.Millisecond)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		f, err := e.Reg.GetFunction(ctx, "guest", "soon")
		return err == nil && f.Purged
	}, 5*time.Second, 20*time.Millisecond, "purged soon after its grace period, long before the loop's interval")
}
