package probe

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/optimizer/search"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    Activation
		want search.Outcome
	}{
		{"success", Activation{Status: "success"}, search.OK},
		{"application error is a measurement", Activation{Status: "application error", Error: "bad input"}, search.AppError},
		{"docker OOM", Activation{Status: "action developer error", Error: "The action exhausted its memory and was aborted."}, search.OOM},
		{"kubernetes OOM at run", Activation{Status: "action developer error", Error: "The action did not produce a valid response and exited unexpectedly."}, search.OOM},
		{"kubernetes OOM at init", Activation{Status: "action developer error", Error: "The action did not initialize and exited unexpectedly."}, search.OOM},
		{"timeout by annotation", Activation{Status: "action developer error", TimedOut: true}, search.Timeout},
		{"timeout by text", Activation{Status: "action developer error", Error: "The action exceeded its time limits of 3000 milliseconds."}, search.Timeout},
		{"init failure", Activation{Status: "action developer error", Error: "The action failed during initialization: boom"}, search.InitFailure},
		{"other developer error", Activation{Status: "action developer error", Error: "The action did not produce a valid JSON or JSON Array response: x"}, search.AppError},
		{"whisk internal error", Activation{Status: "whisk internal error"}, search.SystemError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Classify(tc.a))
		})
	}
}

// fakeActions is an in-memory action store.
type fakeActions struct {
	mu      sync.Mutex
	docs    map[string]entity.Action
	code    map[string][]byte
	deletes []string
	putErr  error
}

func newFakeActions() *fakeActions {
	return &fakeActions{docs: map[string]entity.Action{}, code: map[string][]byte{}}
}

func (f *fakeActions) Get(_ context.Context, docid string) (entity.Action, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.docs[docid]
	if !ok {
		return entity.Action{}, errors.New("not found")
	}
	return a.Clone(), nil
}

func (f *fakeActions) Code(_ context.Context, a entity.Action) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.code[a.FQN()], nil
}

func (f *fakeActions) Put(_ context.Context, a entity.Action, code []byte) (entity.Action, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.putErr != nil {
		return entity.Action{}, f.putErr
	}
	a.ID = a.FQN()
	f.docs[a.ID], f.code[a.ID] = a, code
	return a, nil
}

func (f *fakeActions) Delete(_ context.Context, docid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.docs, docid)
	f.deletes = append(f.deletes, docid)
	return nil
}

func (f *fakeActions) IDs(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id := range f.docs {
		ids = append(ids, id)
	}
	return ids, nil
}

func liveAction(ns, docNS, name string) entity.Action {
	a := entity.Action{Namespace: docNS, Name: name, Exec: entity.Exec{Kind: "nodejs:20", Code: &entity.Code{}},
		Limits: entity.DefaultLimits(), Parameters: entity.KeyValues{}.With("secret", "s3cr3t"),
		Annotations: entity.KeyValues{}.With("exec", "nodejs:20").With("gpuNum", 1)}
	a.Limits.Memory = 512
	a.ID = a.FQN()
	_ = ns
	return a
}

func TestCopies(t *testing.T) {
	for _, tc := range []struct {
		name, fn, docid, wantPath, wantDoc string
	}{
		{"plain action", "hello", "guest/hello", "hello@fnmgr-probe-r1-256", "guest/hello@fnmgr-probe-r1-256"},
		{"packaged action", "pkg/hello", "guest/pkg/hello", "pkg/hello@fnmgr-probe-r1-256", "guest/pkg/hello@fnmgr-probe-r1-256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			fa := newFakeActions()
			docNS, base, _ := strings.Cut(tc.docid, "/")
			if strings.Contains(base, "/") {
				pkg, n, _ := strings.Cut(base, "/")
				docNS, base = docNS+"/"+pkg, n
			}
			live := liveAction("guest", docNS, base)
			fa.docs[tc.docid], fa.code[tc.docid] = live, []byte("function main(){}")
			c, err := NewCopies(ctx, fa, "guest", tc.fn, "r1")
			require.NoError(t, err)
			path, err := c.Ensure(ctx, Limits{MemoryMB: 256})
			require.NoError(t, err)
			require.Equal(t, tc.wantPath, path)
			cp := fa.docs[tc.wantDoc]
			require.Equal(t, 256, cp.Limits.Memory)
			require.Equal(t, live.Limits.Timeout, cp.Limits.Timeout)
			run, ok := cp.Annotations.String(Annotation)
			require.True(t, ok)
			require.Equal(t, "r1", run)
			require.Equal(t, live.Parameters, cp.Parameters, "the copy runs with the live parameters")
			require.Equal(t, "function main(){}", string(fa.code[tc.wantDoc]))
			require.True(t, IsProbe(cp))
			require.True(t, IsProbeName(cp.Name))
			require.Equal(t, 512, fa.docs[tc.docid].Limits.Memory, "the live action is untouched")

			_, err = c.Ensure(ctx, Limits{MemoryMB: 256})
			require.NoError(t, err)
			gpuN := 2
			_, err = c.Ensure(ctx, Limits{MemoryMB: 512, GPUNum: &gpuN})
			require.NoError(t, err)
			require.NoError(t, c.Remove(ctx))
			require.Len(t, fa.docs, 1, "only the live action is left")
			require.Contains(t, fa.docs, tc.docid)
		})
	}
}

func TestCopiesRefuseSequences(t *testing.T) {
	fa := newFakeActions()
	a := liveAction("guest", "guest", "seq")
	a.Exec = entity.Exec{Kind: entity.KindSequence, Components: []string{"/guest/a"}}
	fa.docs["guest/seq"] = a
	_, err := NewCopies(context.Background(), fa, "guest", "seq", "r1")
	require.ErrorIs(t, err, ErrNotCopyable)
}

func TestCopiesRemoveAfterFailedPut(t *testing.T) {
	fa := newFakeActions()
	fa.docs["guest/hello"] = liveAction("guest", "guest", "hello")
	c, err := NewCopies(context.Background(), fa, "guest", "hello", "r1")
	require.NoError(t, err)
	fa.putErr = errors.New("couch down")
	_, err = c.Ensure(context.Background(), Limits{MemoryMB: 256})
	require.Error(t, err)
	require.NoError(t, c.Remove(context.Background()))
	require.Contains(t, fa.deletes, "guest/hello@fnmgr-probe-r1-256", "a copy that may have been written is deleted")
}

func TestSweep(t *testing.T) {
	fa := newFakeActions()
	fa.docs["guest/hello"] = liveAction("guest", "guest", "hello")
	left := liveAction("guest", "guest", "hello@fnmgr-probe-old-256")
	left.Annotations = left.Annotations.With(Annotation, "old")
	fa.docs["guest/hello@fnmgr-probe-old-256"] = left
	mine := liveAction("guest", "guest", "hello@fnmgr-probe-live-256")
	mine.Annotations = mine.Annotations.With(Annotation, "live")
	fa.docs["guest/hello@fnmgr-probe-live-256"] = mine
	// A user's action that only looks like a copy (no annotation) stays.
	fa.docs["guest/x@fnmgr-probe-y-1"] = liveAction("guest", "guest", "x@fnmgr-probe-y-1")
	deleted, err := Sweep(context.Background(), fa, fa, func(run string) bool { return run == "live" })
	require.NoError(t, err)
	require.Equal(t, []string{"guest/hello@fnmgr-probe-old-256"}, deleted)
	require.Len(t, fa.docs, 3)
}

// fakeInvoker answers with scripted activations per memory size (read from
// the copy's name).
type fakeInvoker struct {
	mu       sync.Mutex
	calls    []string
	payloads []string
	answer   func(action string, n int) (Activation, error)
}

func (f *fakeInvoker) Invoke(_ context.Context, ns, action string, payload json.RawMessage) (Activation, error) {
	f.mu.Lock()
	f.calls = append(f.calls, action)
	f.payloads = append(f.payloads, string(payload))
	n := 0
	for _, c := range f.calls {
		if c == action {
			n++
		}
	}
	f.mu.Unlock()
	return f.answer(action, n)
}

func TestTester(t *testing.T) {
	ctx := context.Background()
	setup := func(answer func(string, int) (Activation, error), o TesterOptions) (*Tester, *fakeInvoker) {
		fa := newFakeActions()
		fa.docs["guest/hello"] = liveAction("guest", "guest", "hello")
		c, err := NewCopies(ctx, fa, "guest", "hello", "r1")
		require.NoError(t, err)
		inv := &fakeInvoker{answer: answer}
		o.Copies, o.Invoker, o.Namespace = c, inv, "guest"
		o.RetryPause = 1
		return NewTester(o), inv
	}
	ok := func(_ string, n int) (Activation, error) {
		a := Activation{ID: "a", Status: "success", DurationMs: 100}
		if n == 1 {
			a.InitMs, a.DurationMs = 300, 450
		}
		return a, nil
	}
	t.Run("cold then warm, payloads by weight", func(t *testing.T) {
		tr, inv := setup(ok, TesterOptions{Payloads: []Payload{{Body: json.RawMessage(`{"a":1}`), Weight: 3}, {Body: json.RawMessage(`{"b":2}`), Weight: 1}}})
		obs, err := tr.Probe(ctx, 256, 9)
		require.NoError(t, err)
		require.Len(t, obs, 9)
		require.True(t, obs[0].Cold)
		require.Equal(t, 300.0, obs[0].InitMs)
		for _, o := range obs[1:] {
			require.False(t, o.Cold)
			require.Equal(t, search.OK, o.Outcome)
		}
		a := strings.Count(strings.Join(inv.payloads[:8], " "), `"a":1`)
		require.Equal(t, 6, a, "3:1 weights over 8 runs")
		n, gbs := tr.Spent()
		require.Equal(t, 9, n)
		require.InDelta(t, 0.25*(0.45+8*0.1), gbs, 1e-9)
	})
	t.Run("stops at an infeasible outcome", func(t *testing.T) {
		tr, _ := setup(func(string, int) (Activation, error) {
			return Activation{Status: "action developer error", Error: "The action exhausted its memory and was aborted.", DurationMs: 20}, nil
		}, TesterOptions{})
		obs, err := tr.Probe(ctx, 128, 5)
		require.NoError(t, err)
		require.Len(t, obs, 1)
		require.Equal(t, search.OOM, obs[0].Outcome)
		require.NotEmpty(t, obs[0].Message)
	})
	t.Run("invocation budget", func(t *testing.T) {
		tr, _ := setup(ok, TesterOptions{MaxInvocations: 3})
		obs, err := tr.Probe(ctx, 256, 5)
		require.ErrorIs(t, err, search.ErrBudget)
		require.Len(t, obs, 3)
	})
	t.Run("GB-seconds budget", func(t *testing.T) {
		tr, _ := setup(ok, TesterOptions{MaxGBSeconds: 0.15})
		obs, err := tr.Probe(ctx, 256, 5)
		require.ErrorIs(t, err, search.ErrBudget)
		require.Len(t, obs, 3, "0.1125 GB-s after the cold run, 0.1375 after the next, 0.1625 after the third: over")
	})
	t.Run("retries what the platform refused", func(t *testing.T) {
		tr, inv := setup(func(a string, n int) (Activation, error) {
			if n <= 2 {
				return Activation{}, ErrUnavailable
			}
			return Activation{Status: "success", DurationMs: 10}, nil
		}, TesterOptions{})
		obs, err := tr.Probe(ctx, 256, 1)
		require.NoError(t, err)
		require.Len(t, obs, 1)
		require.Len(t, inv.calls, 3)
	})
	t.Run("gives up after the retries", func(t *testing.T) {
		tr, _ := setup(func(string, int) (Activation, error) { return Activation{}, ErrUnavailable }, TesterOptions{Retries: 2})
		_, err := tr.Probe(ctx, 256, 1)
		require.ErrorIs(t, err, ErrUnavailable)
	})
}
