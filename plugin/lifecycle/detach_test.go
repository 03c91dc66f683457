package lifecycle_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/api"
	"github.com/fnmgr/fnmgr/plugin/lifecycle"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/versions"
)

// hangUpActions is memActions whose first write to OpenWhisk, once armed,
// cancels the caller's context, and a write on a cancelled context fails
// as it does on CouchDB's client: the client of the transition (a replica
// that forwarded the write, killed) goes away after the intent is recorded.
type hangUpActions struct {
	*memActions
	mu     sync.Mutex
	cancel context.CancelFunc
}

func (h *hangUpActions) hangUp() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cancel != nil {
		h.cancel()
		h.cancel = nil
	}
}

func (h *hangUpActions) Put(ctx context.Context, a entity.Action, code []byte) (entity.Action, error) {
	h.hangUp()
	if err := ctx.Err(); err != nil { // as CouchDB's client does
		return entity.Action{}, err
	}
	return h.memActions.Put(ctx, a, code)
}

func (h *hangUpActions) Modify(ctx context.Context, docid string, fn func(*entity.Action) (bool, error)) (entity.Action, error) {
	h.hangUp()
	if err := ctx.Err(); err != nil {
		return entity.Action{}, err
	}
	return h.memActions.Modify(ctx, docid, fn)
}

// TestTransitionOutlivesItsCaller: a block, unblock, retire or update
// whose caller goes away once its intent is recorded is carried to its
// end on the leader, not left half done until the next leader's Recover
// (TestKillAnyReplicaDuringTransitions found a retire left so when the
// replica that had forwarded it was killed).
func TestTransitionOutlivesItsCaller(t *testing.T) {
	code := "function main(){return {v:2}}"
	cases := []struct {
		op   string
		from registry.State
		run  func(ctx context.Context, lc *lifecycle.Controller, name string) error
		to   registry.State
	}{
		{"block", registry.Latest, func(ctx context.Context, lc *lifecycle.Controller, name string) error {
			_, err := lc.Block(ctx, "guest", name, "incident", "t")
			return err
		}, registry.Blocked},
		{"unblock", registry.Blocked, func(ctx context.Context, lc *lifecycle.Controller, name string) error {
			_, err := lc.Unblock(ctx, "guest", name, "t")
			return err
		}, registry.Latest},
		{"retire", registry.Latest, func(ctx context.Context, lc *lifecycle.Controller, name string) error {
			_, err := lc.Retire(ctx, "guest", name, "old", "t", time.Hour)
			return err
		}, registry.Retired},
		{"update", registry.Latest, func(ctx context.Context, lc *lifecycle.Controller, name string) error {
			_, err := lc.Update(ctx, "guest", name, api.UpdateRequest{Exec: &entity.ExecPut{Kind: "nodejs:20", Code: &code}}, "t")
			return err
		}, registry.Latest},
	}
	for _, tc := range cases {
		t.Run(tc.op, func(t *testing.T) {
			h := &hangUpActions{}
			w := newWorldOver(t, func(a *memActions) versions.Actions { h.memActions = a; return h })
			w.into("fn", tc.from)

			ctx, cancel := context.WithCancel(w.ctx)
			defer cancel()
			h.mu.Lock()
			h.cancel = cancel
			h.mu.Unlock()
			require.NoError(t, tc.run(ctx, w.lc, "fn"), "the transition ends although its caller went away")
			require.Error(t, ctx.Err(), "the caller went away during the transition")

			f, err := w.reg.GetFunction(w.ctx, "guest", "fn")
			require.NoError(t, err)
			require.Nil(t, f.Transition, "no intent left half done")
			require.Equal(t, tc.to, f.State)
			hist, err := w.reg.History(w.ctx, "guest", "fn")
			require.NoError(t, err)
			last, _ := json.Marshal(hist[len(hist)-1])
			require.Equal(t, tc.op, hist[len(hist)-1].Op, "%s", last)
			require.Equal(t, registry.OutcomeOK, hist[len(hist)-1].Outcome, "%s", last)
		})
	}
}

// failOnceActions is memActions whose next write to OpenWhisk, once
// armed, fails (CouchDB unreachable for a moment).
type failOnceActions struct {
	*memActions
	armed atomic.Bool
}

func (f *failOnceActions) Put(ctx context.Context, a entity.Action, code []byte) (entity.Action, error) {
	if f.armed.Swap(false) {
		return entity.Action{}, errors.New("couch: connection refused")
	}
	return f.memActions.Put(ctx, a, code)
}

// TestStrandedTransitionIsFinishedByTheLeader: a block whose write to
// OpenWhisk fails after its intent is recorded answers the error, and the
// leader's purge loop then finishes it as Recover would, without a
// restart: the function ends BLOCKED with its stub in place and no intent
// left.
func TestStrandedTransitionIsFinishedByTheLeader(t *testing.T) {
	fo := &failOnceActions{}
	w := newWorldOver(t, func(a *memActions) versions.Actions { fo.memActions = a; return fo })
	w.into("fn", registry.Latest)
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	go func() { _ = w.lc.Run(ctx, time.Hour) }()

	fo.armed.Store(true)
	_, err := w.lc.Block(w.ctx, "guest", "fn", "incident", "t")
	require.Error(t, err, "the failed write is answered")
	require.Eventually(t, func() bool {
		f, err := w.reg.GetFunction(w.ctx, "guest", "fn")
		return err == nil && f.Transition == nil
	}, 5*time.Second, 10*time.Millisecond, "the leader finishes the stranded block")
	require.Equal(t, registry.Blocked, w.state("fn"))
	a, err := w.acts.Get(w.ctx, "guest/fn")
	require.NoError(t, err)
	code, err := w.acts.Code(w.ctx, a)
	require.NoError(t, err)
	require.True(t, versions.HasStubMarker(code), "the stub is in place")
}
