package optimizer_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/optimizer"
	"github.com/fnmgr/fnmgr/optimizer/gpu"
	"github.com/fnmgr/fnmgr/optimizer/gpu/gputest"
	"github.com/fnmgr/fnmgr/optimizer/probe"
	"github.com/fnmgr/fnmgr/optimizer/search"
	"github.com/fnmgr/fnmgr/optimizer/sim"
)

func TestRunRightSizesAndStores(t *testing.T) {
	x := newFixture(t, flat())
	x.function("sleepy", 512, optimizer.StateLatest)
	id, err := x.svc.Start(x.ctx, "guest", "sleepy", optimizer.Request{Payloads: optimizer.Payloads{{Body: json.RawMessage(`{"secret":"p4ss"}`), Weight: 1}}}, "alice")
	require.NoError(t, err)
	r := x.wait(x.svc, "sleepy", id)
	require.Equal(t, optimizer.Succeeded, r.Status, r.Error)
	rep := r.Report
	require.NotNil(t, rep)
	require.Equal(t, 128, rep.Recommendation.MemoryMB, rep.Recommendation.Why)
	require.Equal(t, "active", rep.Recommendation.Source)
	require.Equal(t, 512, rep.Current.MemoryMB)
	require.NotNil(t, rep.Saving)
	require.Equal(t, 384, rep.Saving.MemorySavedMB)
	require.Greater(t, rep.Saving.GBSecondsSavedPct, 70.0)
	require.LessOrEqual(t, rep.Invocations, 15)
	require.Equal(t, x.inv.invocations(), rep.Invocations)
	require.Equal(t, rep.Invocations, r.Progress.Done)
	require.Equal(t, 15, r.Progress.Total)
	require.NotEmpty(t, rep.Active.Points)
	require.NotEmpty(t, rep.Active.Steps)
	require.Empty(t, x.acts.copies(), "no probe copy is left")
	live, err := x.acts.Get(x.ctx, "guest/sleepy")
	require.NoError(t, err)
	require.Equal(t, 512, live.Limits.Memory, "the live action is untouched")

	// The run is stored: a new service (after a restart) reads it.
	raw, err := json.Marshal(r)
	require.NoError(t, err)
	require.NotContains(t, string(raw), "p4ss", "payloads are not stored")
	other := x.service()
	stored, err := other.Get(x.ctx, "guest", "sleepy", id)
	require.NoError(t, err)
	require.Equal(t, optimizer.Succeeded, stored.Status)
	require.Equal(t, 128, stored.Report.Recommendation.MemoryMB)
	require.Equal(t, "alice", stored.By)

	svg, err := other.Chart(x.ctx, "guest", "sleepy", id)
	require.NoError(t, err)
	require.Contains(t, string(svg), "chosen 128 MB")

	_, err = other.Get(x.ctx, "guest", "sleepy", "nope")
	require.ErrorIs(t, err, optimizer.ErrNotFound)
	require.NoError(t, other.Cancel(x.ctx, "guest", "sleepy", id), "cancelling an ended run does nothing")
}

func TestRunNeverBelowFeasible(t *testing.T) {
	f := flat()
	f.WorkingSetMB = 320
	x := newFixture(t, f)
	x.function("big", 512, optimizer.StateLatest)
	id, err := x.svc.Start(x.ctx, "guest", "big", optimizer.Request{}, "")
	require.NoError(t, err)
	r := x.wait(x.svc, "big", id)
	require.Equal(t, optimizer.Succeeded, r.Status, r.Error)
	require.Equal(t, 320, r.Report.Recommendation.MemoryMB, r.Report.Recommendation.Why)
	require.Empty(t, x.acts.copies())
}

func TestApply(t *testing.T) {
	x := newFixture(t, flat())
	x.function("sleepy", 512, optimizer.StateLatest)
	id, err := x.svc.Start(x.ctx, "guest", "sleepy", optimizer.Request{Apply: true}, "bob")
	require.NoError(t, err)
	r := x.wait(x.svc, "sleepy", id)
	require.Equal(t, optimizer.Succeeded, r.Status, r.Error)
	apps := x.conf.applied()
	require.Len(t, apps, 1)
	require.Equal(t, 128, apps[0].Setting.MemoryMB)
	require.NotNil(t, r.Report.Applied)
	require.Empty(t, r.Report.Applied.Error)
	require.Equal(t, "bob", apps[0].By)
	require.Contains(t, apps[0].Reason, "512 MB -> 128 MB")

	t.Run("a refused apply fails the run and keeps the report", func(t *testing.T) {
		x.conf.err = errors.New("config: function is BLOCKED: conflict")
		id, err := x.svc.Start(x.ctx, "guest", "sleepy", optimizer.Request{Apply: true}, "bob")
		require.NoError(t, err)
		r := x.wait(x.svc, "sleepy", id)
		require.Equal(t, optimizer.Failed, r.Status)
		require.Contains(t, r.Error, "apply")
		require.NotEmpty(t, r.Report.Applied.Error)
	})
}

func TestCancelAndFailure(t *testing.T) {
	t.Run("cancel", func(t *testing.T) {
		x := newFixture(t, flat())
		x.function("sleepy", 512, optimizer.StateLatest)
		x.inv.block = make(chan struct{}) // every invocation hangs until cancelled
		id, err := x.svc.Start(x.ctx, "guest", "sleepy", optimizer.Request{}, "")
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(x.acts.copies()) > 0 }, 10*time.Second, 5*time.Millisecond)
		_, err = x.svc.Start(x.ctx, "guest", "sleepy", optimizer.Request{}, "")
		require.ErrorIs(t, err, optimizer.ErrConflict, "one run per function at a time")
		require.NoError(t, x.svc.Cancel(x.ctx, "guest", "sleepy", id))
		r := x.wait(x.svc, "sleepy", id)
		require.Equal(t, optimizer.Cancelled, r.Status)
		require.Empty(t, x.acts.copies(), "no copy is left after a cancel")
	})
	t.Run("the platform fails", func(t *testing.T) {
		x := newFixture(t, flat())
		x.function("sleepy", 512, optimizer.StateLatest)
		x.inv.err = errors.Join(errDown, probe.ErrUnavailable)
		id, err := x.svc.Start(x.ctx, "guest", "sleepy", optimizer.Request{}, "")
		require.NoError(t, err)
		r := x.wait(x.svc, "sleepy", id)
		require.Equal(t, optimizer.Failed, r.Status)
		require.Contains(t, r.Error, "controller down")
		require.Empty(t, x.acts.copies(), "no copy is left after a failure")
	})
	t.Run("the function is blocked meanwhile", func(t *testing.T) {
		x := newFixture(t, flat())
		x.function("sleepy", 512, optimizer.StateLatest)
		x.inv.block = make(chan struct{})
		id, err := x.svc.Start(x.ctx, "guest", "sleepy", optimizer.Request{}, "")
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(x.acts.copies()) > 0 }, 10*time.Second, 5*time.Millisecond)
		x.fns.set("sleepy", optimizer.StateBlocked)
		close(x.inv.block)
		r := x.wait(x.svc, "sleepy", id)
		require.Equal(t, optimizer.Failed, r.Status)
		require.Contains(t, r.Error, "BLOCKED")
		require.Empty(t, x.acts.copies())
	})
	t.Run("stop cancels runs and cleans up", func(t *testing.T) {
		x := newFixture(t, flat())
		x.function("sleepy", 512, optimizer.StateLatest)
		x.inv.block = make(chan struct{})
		id, err := x.svc.Start(x.ctx, "guest", "sleepy", optimizer.Request{}, "")
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(x.acts.copies()) > 0 }, 10*time.Second, 5*time.Millisecond)
		require.NoError(t, x.svc.Stop(x.ctx))
		require.Empty(t, x.acts.copies())
		r, err := x.service().Get(x.ctx, "guest", "sleepy", id)
		require.NoError(t, err)
		require.Equal(t, optimizer.Cancelled, r.Status)
	})
}

func TestCleanupAfterCrash(t *testing.T) {
	x := newFixture(t, flat())
	x.function("sleepy", 512, optimizer.StateLatest)
	x.inv.block = make(chan struct{})
	id, err := x.svc.Start(x.ctx, "guest", "sleepy", optimizer.Request{}, "")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		r, _ := x.svc.Get(x.ctx, "guest", "sleepy", id)
		return len(x.acts.copies()) > 0 && r.Status == optimizer.Running
	}, 10*time.Second, 5*time.Millisecond)
	// A crash: the process is gone, the copies and the stored run remain.
	// A new process starts over the same databases.
	leftover := append([]string(nil), x.acts.copies()...)
	require.NotEmpty(t, leftover)
	fresh := x.service()
	require.NoError(t, fresh.Cleanup(x.ctx))
	for _, c := range leftover {
		_, err := x.acts.Get(x.ctx, c)
		require.ErrorIs(t, err, whiskdb.ErrNotFound, "copy %s deleted", c)
	}
	r, err := fresh.Get(x.ctx, "guest", "sleepy", id)
	require.NoError(t, err)
	require.Equal(t, optimizer.Failed, r.Status)
	require.Contains(t, r.Error, "interrupted")
	close(x.inv.block) // let the "crashed" run end
}

// TestCleanupFinishesAnInterruptedApply: a process stopped while applying
// the chosen setting left the run stored with it; the next process
// applies it and reports the run succeeded, so the action is never changed
// by a run reported as failed.
func TestCleanupFinishesAnInterruptedApply(t *testing.T) {
	x := newFixture(t, flat())
	x.function("applying", 512, optimizer.StateLatest)
	x.conf.hang = make(chan struct{})
	defer close(x.conf.hang)
	id, err := x.svc.Start(x.ctx, "guest", "applying", optimizer.Request{Apply: true}, "")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(x.conf.applied()) == 1 }, 30*time.Second, 5*time.Millisecond,
		"the run reaches its apply")
	want := x.conf.applied()[0].Setting.MemoryMB

	fresh := x.service() // the process that starts after the crash
	require.NoError(t, fresh.Cleanup(x.ctx))
	reqs := x.conf.applied()
	require.Len(t, reqs, 2, "the setting is applied again at start")
	require.Equal(t, want, reqs[1].Setting.MemoryMB)
	r, err := fresh.Get(x.ctx, "guest", "applying", id)
	require.NoError(t, err)
	require.Equal(t, optimizer.Succeeded, r.Status, "error: %s", r.Error)
	require.NotNil(t, r.Report)
	require.Equal(t, want, r.Report.Recommendation.MemoryMB)
	require.Contains(t, strings.Join(r.Report.Warnings, " "), "finished applying it")
}

func TestPassive(t *testing.T) {
	stats := traffic{"guest/sleepy": []search.Sample{
		{MemoryMB: 256, Count: 30, MedianMs: 203, MeanMs: 205},
		{MemoryMB: 512, Count: 30, MedianMs: 201, MeanMs: 202},
	}}
	x := newFixture(t, flat(), func(o *optimizer.Options) { o.Traffic = stats })
	x.function("sleepy", 512, optimizer.StateLatest)
	x.function("quiet", 512, optimizer.StateLatest)
	t.Run("passive alone probes nothing", func(t *testing.T) {
		id, err := x.svc.Start(x.ctx, "guest", "sleepy", optimizer.Request{Mode: optimizer.ModePassive}, "")
		require.NoError(t, err)
		r := x.wait(x.svc, "sleepy", id)
		require.Equal(t, optimizer.Succeeded, r.Status, r.Error)
		require.Zero(t, x.inv.invocations())
		require.Nil(t, r.Report.Active)
		require.Equal(t, "passive", r.Report.Recommendation.Source)
		require.Equal(t, 256, r.Report.Recommendation.MemoryMB)
		require.NotEmpty(t, r.Report.Passive.Note, "it says smaller sizes were never seen")
		require.Equal(t, 0, r.Progress.Total)
	})
	t.Run("beside the active result", func(t *testing.T) {
		id, err := x.svc.Start(x.ctx, "guest", "sleepy", optimizer.Request{}, "")
		require.NoError(t, err)
		r := x.wait(x.svc, "sleepy", id)
		require.Equal(t, optimizer.Succeeded, r.Status, r.Error)
		require.Equal(t, "active", r.Report.Recommendation.Source)
		require.NotNil(t, r.Report.Passive)
		require.Equal(t, 256, r.Report.Passive.Decision.MemoryMB)
	})
	t.Run("not enough traffic", func(t *testing.T) {
		id, err := x.svc.Start(x.ctx, "guest", "quiet", optimizer.Request{Mode: optimizer.ModePassive}, "")
		require.NoError(t, err)
		r := x.wait(x.svc, "quiet", id)
		require.Equal(t, optimizer.Succeeded, r.Status)
		require.Nil(t, r.Report.Recommendation)
		require.False(t, r.Report.Passive.Enough)
		require.Contains(t, r.Report.Passive.Why, "not enough traffic")
	})
}

func TestGPU(t *testing.T) {
	t.Run("measured", func(t *testing.T) {
		s := &gputest.Sampler{Usage: gpu.Usage{GPUs: 1, Seen: 1, PeakMemMB: 900, MeanUtilPct: 40, P90UtilPct: 60, Samples: 30}}
		x := newFixture(t, flat(), func(o *optimizer.Options) { o.GPU = s })
		x.function("infer", 512, optimizer.StateLatest)
		id, err := x.svc.Start(x.ctx, "guest", "infer", optimizer.Request{GPU: true, Apply: true}, "")
		require.NoError(t, err)
		r := x.wait(x.svc, "infer", id)
		require.Equal(t, optimizer.Succeeded, r.Status, r.Error)
		g := r.Report.GPU
		require.Empty(t, g.Unavailable)
		require.Equal(t, 1, g.Recommendation.GPUNum)
		require.Equal(t, 1280, g.Recommendation.GPUMemorySize)
		require.Equal(t, 70, g.Recommendation.GPUPercentage)
		require.Equal(t, 1280, *r.Report.Recommendation.GPUMemorySize)
		require.Equal(t, 18, r.Progress.Total, "15 for memory, 3 for the GPU")
		require.Equal(t, 1280, *x.conf.applied()[0].Setting.GPUMemorySize, "apply writes the GPU settings too")
		require.Zero(t, s.Open())
	})
	t.Run("unavailable: memory only", func(t *testing.T) {
		s := &gputest.Sampler{Err: &gpu.UnavailableError{Reason: "libdcgm.so.4 not found"}}
		x := newFixture(t, flat(), func(o *optimizer.Options) { o.GPU = s })
		x.function("infer", 512, optimizer.StateLatest)
		id, err := x.svc.Start(x.ctx, "guest", "infer", optimizer.Request{GPU: true}, "")
		require.NoError(t, err)
		r := x.wait(x.svc, "infer", id)
		require.Equal(t, optimizer.Succeeded, r.Status, r.Error)
		require.Equal(t, "GPU measurement unavailable: libdcgm.so.4 not found", r.Report.GPU.Unavailable)
		require.Nil(t, r.Report.Recommendation.GPUNum)
		require.Equal(t, 128, r.Report.Recommendation.MemoryMB)
	})
	t.Run("no sampler", func(t *testing.T) {
		x := newFixture(t, flat())
		x.function("infer", 512, optimizer.StateLatest)
		id, err := x.svc.Start(x.ctx, "guest", "infer", optimizer.Request{GPU: true}, "")
		require.NoError(t, err)
		r := x.wait(x.svc, "infer", id)
		require.True(t, strings.HasPrefix(r.Report.GPU.Unavailable, "GPU measurement unavailable: "))
	})
}

func TestPolicy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy optimizer.Policy
		fn     string
		ann    entity.KeyValues
		starts bool
	}{
		{"off", optimizer.PolicyOff, "a", entity.KeyValues{}.With(optimizer.AnnotationOptimize, true), false},
		{"new: every action", optimizer.PolicyNew, "a", nil, true},
		{"new, but annotated false", optimizer.PolicyNew, "a", entity.KeyValues{}.With(optimizer.AnnotationOptimize, false), false},
		{"annotated: without the annotation", optimizer.PolicyAnnotated, "a", nil, false},
		{"annotated: with it", optimizer.PolicyAnnotated, "a", entity.KeyValues{}.With(optimizer.AnnotationOptimize, true), true},
		{"annotated: a request", optimizer.PolicyAnnotated, "a", entity.KeyValues{}.With(optimizer.AnnotationOptimize,
			map[string]any{"objective": "cost", "maxInvocations": 8}), true},
		{"versions are not optimized", optimizer.PolicyNew, "a@1", nil, false},
		{"probe copies are not optimized", optimizer.PolicyNew, "a@fnmgr-probe-x-128", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newFixture(t, flat(), func(o *optimizer.Options) { o.Policy = tc.policy })
			x.function(tc.fn, 256, optimizer.StateLatest)
			id, err := x.svc.OnNewFunction(x.ctx, "guest", tc.fn, tc.ann)
			require.NoError(t, err)
			require.Equal(t, tc.starts, id != "")
			if id != "" {
				r := x.wait(x.svc, tc.fn, id)
				require.Equal(t, "policy", r.By)
				require.Equal(t, optimizer.Succeeded, r.Status, r.Error)
			}
		})
	}
	_, err := optimizer.New(optimizer.Options{Policy: "sometimes"})
	require.Error(t, err)
}

func TestProgressWhileRunning(t *testing.T) {
	x := newFixture(t, flat())
	x.function("sleepy", 512, optimizer.StateLatest)
	x.inv.block = make(chan struct{})
	id, err := x.svc.Start(x.ctx, "guest", "sleepy", optimizer.Request{MaxInvocations: 10}, "")
	require.NoError(t, err)
	r, err := x.svc.Get(x.ctx, "guest", "sleepy", id)
	require.NoError(t, err)
	require.Equal(t, 10, r.Progress.Total)
	require.False(t, r.Status.Done())
	close(x.inv.block)
	r = x.wait(x.svc, "sleepy", id)
	require.Equal(t, r.Report.Invocations, r.Progress.Done)
	require.LessOrEqual(t, r.Progress.Done, 10)
	require.Equal(t, search.MinResources, r.Report.Objective)
	require.NotEmpty(t, sim.Suite())
}

func TestList(t *testing.T) {
	x := newFixture(t, flat())
	x.function("sleepy", 512, optimizer.StateLatest)
	x.function("other", 512, optimizer.StateLatest)
	var ids []string
	for i := 0; i < 2; i++ {
		id, err := x.svc.Start(x.ctx, "guest", "sleepy", optimizer.Request{}, "alice")
		require.NoError(t, err)
		x.wait(x.svc, "sleepy", id)
		ids = append(ids, id)
	}
	_, err := x.svc.Start(x.ctx, "guest", "other", optimizer.Request{Mode: optimizer.ModePassive}, "")
	require.NoError(t, err)
	runs, err := x.svc.List(x.ctx, "guest", "sleepy")
	require.NoError(t, err)
	require.Len(t, runs, 2, "sleepy's runs only")
	require.Equal(t, ids[1], runs[0].ID, "newest first")
	require.Equal(t, ids[0], runs[1].ID)
	s := runs[0].Summary()
	require.Equal(t, optimizer.Succeeded, s.Status)
	require.Equal(t, 128, s.Recommendation.MemoryMB)
	require.Equal(t, 512, s.Current.MemoryMB)
	require.Empty(t, s.Recommendation.Why, "the why is in the run itself")
	require.Equal(t, "alice", s.By)
	_, err = x.svc.List(x.ctx, "guest", "nope")
	require.ErrorIs(t, err, optimizer.ErrNotFound)
}

// invokersFunc is a fake Invokers.
type invokersFunc func(id string) (string, bool)

func (f invokersFunc) InvokerOf(_ context.Context, id string) (string, bool) { return f(id) }

// TestGPUPerNode: the GPUs sampled are the node's whose invoker ran the
// probes (learned from the activations), and the report says when the
// measurement covered whole GPUs shared with others.
func TestGPUPerNode(t *testing.T) {
	usage := gpu.Usage{GPUs: 1, Seen: 2, PeakMemMB: 900, MeanUtilPct: 40, P90UtilPct: 60, Samples: 30}
	for _, tc := range []struct {
		name     string
		invokers optimizer.Invokers
		scope    string
		node     string
		warn     []string
		noWarn   []string
	}{
		{"learned from the activations, whole GPU", invokersFunc(func(string) (string, bool) { return "invoker1", true }), "",
			"invoker1", []string{"whole-GPU, shared: DCGM measured every process on invoker1's GPUs"}, []string{"unknown"}},
		{"per-process accounting: no shared warning", invokersFunc(func(string) (string, bool) { return "invoker1", true }), gpu.ScopeProcess,
			"invoker1", nil, []string{"whole-GPU"}},
		{"no user events: the configured node, said", invokersFunc(func(string) (string, bool) { return "", false }), "",
			"gpu-node", []string{"the invoker that ran the probes is unknown"}, nil},
		{"some probes ran elsewhere", func() invokersFunc {
			calls := 0
			return func(string) (string, bool) {
				calls++
				if calls == 3 { // the node is learned on the first; the second GPU probe ran elsewhere
					return "invoker2", true
				}
				return "invoker1", true
			}
		}(), "", "invoker1", []string{"some GPU probes ran on invoker2 while invoker1's GPUs were sampled"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := usage
			u.Scope = tc.scope
			s := &gputest.Sampler{Usage: u}
			x := newFixture(t, flat(), func(o *optimizer.Options) { o.GPU, o.Invokers, o.GPUNode = s, tc.invokers, "gpu-node" })
			x.function("infer", 512, optimizer.StateLatest)
			id, err := x.svc.Start(x.ctx, "guest", "infer", optimizer.Request{GPU: true}, "")
			require.NoError(t, err)
			r := x.wait(x.svc, "infer", id)
			require.Equal(t, optimizer.Succeeded, r.Status, r.Error)
			require.Equal(t, []gpu.Target{{Node: tc.node}}, s.Targets())
			require.Equal(t, tc.node, r.Report.GPU.Node)
			require.Equal(t, 1, r.Report.GPU.Recommendation.GPUNum)
			w := strings.Join(r.Report.Warnings, "\n")
			for _, want := range tc.warn {
				require.Contains(t, w, want)
			}
			for _, not := range tc.noWarn {
				require.NotContains(t, w, not)
			}
		})
	}
}
