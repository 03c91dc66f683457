package stacktest

import (
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/optimizer"
	"github.com/fnmgr/fnmgr/optimizer/probe"
	"github.com/fnmgr/fnmgr/optimizer/search"
)

// memoryCode holds 300 MB, allocated and touched when it loads, and then
// answers after 100 ms (I/O bound): it needs the memory, not the CPU.
const memoryCode = `const held = [];
for (let i = 0; i < 300; i++) { held.push(Buffer.alloc(1024 * 1024, 1)); }
function main(p) {
  return new Promise(r => setTimeout(() => r({held: held.length}), 100));
}`

// TestSleepingActionRightSized: an action that sleeps 200 ms, registered
// at 512 MB, is right-sized to the deployment's minimum (128 MB), the live
// action serves all along, and no probe copy is left.
func TestSleepingActionRightSized(t *testing.T) {
	e := newEnv(t)
	name := unique("opt-sleep")
	e.action(name, sleepCode, 512, 60000)

	// The live action keeps serving while it is optimized.
	stop := make(chan struct{})
	var served, failed atomic.Int32
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(150 * time.Millisecond):
			}
			code, _ := e.rest(http.MethodPost, "actions/"+name+"?blocking=true&result=true", `{}`)
			if code == http.StatusOK {
				served.Add(1)
			} else {
				failed.Add(1)
			}
		}
	}()

	id, err := e.svc.Start(e.ctx, "guest", name, optimizer.Request{MaxInvocations: 12, Apply: true}, "stacktest")
	require.NoError(t, err)
	r := e.wait(e.svc, name, id, 3*time.Minute)
	close(stop)
	wg.Wait()
	require.Equal(t, optimizer.Succeeded, r.Status, r.Error)
	rep := r.Report
	require.Equal(t, 128, rep.Recommendation.MemoryMB, "%s\n%+v", rep.Recommendation.Why, rep.Active.Steps)
	require.LessOrEqual(t, rep.Invocations, 12)
	require.Empty(t, e.probeCopies(name), "no probe copy is left")
	require.Greater(t, served.Load(), int32(0))
	require.Zero(t, failed.Load(), "the live action kept serving")
	require.Greater(t, rep.Saving.GBSecondsSavedPct, 50.0)
	t.Logf("sleep: noise %.3f, %d invocations, %.2f GB-s: %s", rep.Active.Noise, rep.Invocations, rep.GBSeconds, rep.Recommendation.Why)
	for _, p := range rep.Active.Points {
		t.Logf("  %4d MB %s %s n=%d median %.0f ms cold %d errors %d %s", p.MemoryMB, p.Feasibility, p.Failure, p.Stats.N,
			p.Stats.MedianMs, len(p.Cold), len(p.Errors), p.Message)
	}

	// apply: the action now runs at 128 MB and serves.
	a, err := e.actions.Get(e.ctx, "guest/"+name)
	require.NoError(t, err)
	require.Equal(t, 128, a.Limits.Memory)
	code, body := e.rest(http.MethodPost, "actions/"+name+"?blocking=true&result=true", `{}`)
	require.Equal(t, http.StatusOK, code, string(body))
	h, err := e.reg.History(e.ctx, "guest", name)
	require.NoError(t, err)
	require.NotEmpty(t, h)
	require.Contains(t, h[len(h)-1].Reason, "512 MB -> 128 MB")
}

// TestMemoryHungryActionNeverBelowFeasible: an action that needs 300 MB
// is never set below the smallest size where it succeeds.
func TestMemoryHungryActionNeverBelowFeasible(t *testing.T) {
	e := newEnv(t)
	name := unique("opt-mem")
	e.action(name, memoryCode, 512, 60000)
	id, err := e.svc.Start(e.ctx, "guest", name, optimizer.Request{MaxInvocations: 14}, "stacktest")
	require.NoError(t, err)
	r := e.wait(e.svc, name, id, 4*time.Minute)
	require.Equal(t, optimizer.Succeeded, r.Status, r.Error)
	rep := r.Report
	chosen := rep.Recommendation.MemoryMB
	t.Logf("memory: chose %d MB: %s", chosen, rep.Recommendation.Why)
	require.GreaterOrEqual(t, chosen, 320, "300 MB do not fit below 320 MB")
	succeededAt, failedBelow := 0, 0
	for _, p := range rep.Active.Points {
		t.Logf("  %4d MB %s %s n=%d median %.0f ms", p.MemoryMB, p.Feasibility, p.Failure, p.Stats.N, p.Stats.MedianMs)
		if p.MemoryMB == chosen {
			require.Equal(t, search.Feasible, p.Feasibility)
			succeededAt = p.Stats.N
		}
		if p.Feasibility == search.Infeasible {
			require.Less(t, p.MemoryMB, chosen, "an infeasible size is never chosen nor anything below it")
			require.Contains(t, []search.Outcome{search.OOM, search.InitFailure, search.Timeout}, p.Failure)
			failedBelow++
		}
	}
	require.Greater(t, succeededAt, 0, "the chosen size was measured to succeed")
	require.Greater(t, failedBelow, 0, "the smallest sizes ran out of memory")
	largestFailed := 0
	for _, p := range rep.Active.Points {
		if p.Feasibility == search.Infeasible {
			largestFailed = max(largestFailed, p.MemoryMB)
		}
	}
	require.LessOrEqual(t, chosen-largestFailed, 128, "the boundary was found: %d MB fails, %d MB chosen", largestFailed, chosen)
	require.Empty(t, e.probeCopies(name))
}

// TestCPUBoundCostVersusMinResources: a CPU-bound action (150 ms of CPU
// at one core, which it gets at 1024 MB) under min-resources stops near
// the knee; under cost it gets the cheapest size on its own data, larger
// than min-resources would pick from the same data only when cheaper.
// Here that does not happen: with every time at least the best and
// min-resources' answer within 5% of it, a larger size is cheaper only
// below 1.05 times that answer, which 64 MB steps rule out up to 1280 MB
// (docs/optimizer.md, "Assumptions and limits"). The test checks the
// rule, not that case.
func TestCPUBoundCostVersusMinResources(t *testing.T) {
	e := newEnv(t)
	name := unique("opt-cpu")
	e.action(name, cpuCode, 256, 60000)
	payload := optimizer.Payloads{{Body: json.RawMessage(`{"n": 3000000}`), Weight: 1}}
	run := func(obj string) optimizer.Run {
		id, err := e.svc.Start(e.ctx, "guest", name, optimizer.Request{Payloads: payload, Objective: obj, MaxInvocations: 14}, "stacktest")
		require.NoError(t, err)
		r := e.wait(e.svc, name, id, 4*time.Minute)
		require.Equal(t, optimizer.Succeeded, r.Status, r.Error)
		for _, p := range r.Report.Active.Points {
			t.Logf("  %s %4d MB n=%d median %.0f ms cost %.5f GB-s", obj, p.MemoryMB, p.Stats.N, p.Stats.MedianMs, p.GBSeconds)
		}
		t.Logf("%s: %s", obj, r.Report.Recommendation.Why)
		return r
	}
	mr, cost := run("min-resources"), run("cost")
	// The local controller allows at most 512 MB (max_action_memory), so
	// the knee at 1024 MB is out of reach: every size is CPU-starved, and
	// min-resources stops where the time is within 5% of 512 MB's, above
	// the floor (twice as slow under the stack's CPU quota).
	require.LessOrEqual(t, mr.Report.Candidates[len(mr.Report.Candidates)-1], 512, "within the deployment's memory")
	require.Greater(t, mr.Report.Recommendation.MemoryMB, 128, "min-resources keeps the CPU the action needs")
	// On the cost run's own measurements: cost picks the cheapest size
	// (compared on the knee fit's times when there is one), and a larger
	// one than min-resources would pick from the same data only when it
	// is cheaper.
	rep := cost.Report
	c := rep.Recommendation.MemoryMB
	costOf := map[int]float64{}
	cheapest := 0
	for _, p := range rep.Active.Points {
		if p.Feasibility != search.Feasible || p.Stats.N == 0 {
			continue
		}
		ms := p.Stats.MedianMs
		if p.FitMs > 0 {
			ms = p.FitMs
		}
		costOf[p.MemoryMB] = search.GBSeconds(p.MemoryMB, ms)
		if cheapest == 0 || costOf[p.MemoryMB] < costOf[cheapest] {
			cheapest = p.MemoryMB
		}
	}
	if rep.Recommendation.Predicted {
		// The budget ran out before the size the knee fit prefers was
		// probed: it must beat every measured size on the fit's times.
		pc := search.GBSeconds(c, rep.Active.Decision.MedianMs)
		for m, v := range costOf {
			require.Less(t, pc, v, "predicted %d MB against measured %d MB", c, m)
		}
		costOf[c] = pc
	} else {
		require.Equal(t, cheapest, c)
	}
	for _, alt := range rep.Active.Alternatives {
		if alt.Objective != search.MinResources {
			continue
		}
		t.Logf("same data: cost %d MB (%.5f GB-s), min-resources %d MB (%.5f GB-s)", c, costOf[c], alt.MemoryMB, costOf[alt.MemoryMB])
		if c > alt.MemoryMB {
			require.Less(t, costOf[c], costOf[alt.MemoryMB], "larger only when cheaper")
		} else {
			require.LessOrEqual(t, costOf[c], costOf[alt.MemoryMB])
		}
	}
	require.Empty(t, e.probeCopies(name))
}

// TestNoCopyLeftBehind: after a failure, a cancel and a crash (then
// Cleanup), no probe copy remains.
func TestNoCopyLeftBehind(t *testing.T) {
	e := newEnv(t)
	t.Run("failure", func(t *testing.T) {
		name := unique("opt-fail")
		e.action(name, sleepCode, 256, 60000)
		o := e.opts
		o.Invoker = probe.NewClient(probe.ClientOptions{APIHost: e.stack.APIHost, Keys: staticKey("bad:key")})
		svc := e.service(o)
		id, err := svc.Start(e.ctx, "guest", name, optimizer.Request{}, "")
		require.NoError(t, err)
		r := e.wait(svc, name, id, time.Minute)
		require.Equal(t, optimizer.Failed, r.Status)
		require.NotContains(t, r.Error, "bad:key")
		require.Empty(t, e.probeCopies(name))
	})
	t.Run("cancel", func(t *testing.T) {
		name := unique("opt-cancel")
		e.action(name, `function main() { return new Promise(r => setTimeout(() => r({}), 1500)); }`, 256, 60000)
		id, err := e.svc.Start(e.ctx, "guest", name, optimizer.Request{}, "")
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(e.probeCopies(name)) > 0 }, time.Minute, 100*time.Millisecond)
		require.NoError(t, e.svc.Cancel(e.ctx, "guest", name, id))
		r := e.wait(e.svc, name, id, time.Minute)
		require.Equal(t, optimizer.Cancelled, r.Status)
		require.Empty(t, e.probeCopies(name))
	})
	t.Run("crash, then Cleanup", func(t *testing.T) {
		name := unique("opt-crash")
		e.action(name, sleepCode, 256, 60000)
		// What a kill -9 leaves: copies in the whisks database and a run
		// stored as running.
		copies, err := probe.NewCopies(e.ctx, e.actions, "guest", name, "crashed1")
		require.NoError(t, err)
		for _, m := range []int{128, 2048} {
			_, err := copies.Ensure(e.ctx, probe.Limits{MemoryMB: m})
			require.NoError(t, err)
		}
		_, err = e.reg.DB().Put(e.ctx, optimizer.RunID("guest", name, "crashed1"), map[string]any{
			"type": "optimization", "id": "crashed1", "namespace": "guest", "name": name, "status": "running"})
		require.NoError(t, err)
		require.Len(t, e.probeCopies(name), 2)
		fresh := e.service(e.opts)
		require.NoError(t, fresh.Cleanup(e.ctx))
		require.Empty(t, e.probeCopies(name))
		r, err := fresh.Get(e.ctx, "guest", name, "crashed1")
		require.NoError(t, err)
		require.Equal(t, optimizer.Failed, r.Status)
		require.Contains(t, r.Error, "interrupted")
		// The live action is untouched.
		code, body := e.rest(http.MethodPost, "actions/"+name+"?blocking=true&result=true", `{}`)
		require.Equal(t, http.StatusOK, code, string(body))
	})
}
