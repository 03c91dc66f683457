package optimizer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/optimizer/probe"
	"github.com/fnmgr/fnmgr/optimizer/report"
	"github.com/fnmgr/fnmgr/optimizer/search"
)

// Timeouts of a run's bookkeeping, which runs even when the run is
// cancelled.
const (
	cleanupTimeout = 30 * time.Second
	saveEvery      = 2 * time.Second
)

// execute runs lr to its end and stores the outcome.
func (s *Service) execute(ctx context.Context, lr *liveRun, v settled) {
	r := lr.snapshot()
	key := RunID(r.Namespace, r.Name, r.ID)
	defer func() {
		s.mu.Lock()
		delete(s.live, key)
		s.mu.Unlock()
	}()
	lr.mu.Lock()
	lr.tolerance = v.tolerance
	lr.mu.Unlock()
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		s.finish(lr, nil, ctx.Err())
		return
	}
	lr.mu.Lock()
	lr.run.Status, lr.run.Updated = Running, s.o.Now().UTC()
	run := lr.run
	lr.mu.Unlock()
	if err := s.st.Put(ctx, run); err != nil {
		s.log.Warn("storing optimization progress", "run", run.ID, "err", err)
	}
	rep, err := s.optimize(ctx, lr, v)
	s.finish(lr, rep, err)
}

// finish stores the run's final state.
func (s *Service) finish(lr *liveRun, rep *report.Report, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), cleanupTimeout)
	defer cancel()
	now := s.o.Now().UTC()
	lr.mu.Lock()
	run := lr.run
	cancelled := lr.cancelled
	lr.mu.Unlock()
	run.Updated, run.Finished = now, &now
	if rep != nil {
		rep.Finished = now
		run.Report = rep
		run.Progress.Done = rep.Invocations
	}
	switch {
	case cancelled || (err != nil && errors.Is(err, context.Canceled)):
		run.Status = Cancelled
		if !cancelled {
			run.Error = "cancelled: fnmgr is shutting down"
		}
	case err != nil:
		run.Status, run.Error = Failed, err.Error()
	default:
		run.Status = Succeeded
	}
	// Stored before it shows as ended, so a reader who sees the end finds
	// it in the database too.
	if perr := s.st.Put(ctx, run); perr != nil {
		s.log.Error("storing optimization result", "run", run.ID, "err", perr)
	}
	lr.mu.Lock()
	lr.run = run
	lr.mu.Unlock()
	s.runs.WithLabelValues(string(run.Status)).Inc()
	s.log.Info("optimization ended", "function", run.Namespace+"/"+run.Name, "run", run.ID, "status", run.Status,
		"invocations", run.Progress.Done)
}

// optimize does the work of a run and returns its report (also, as far as
// it got, with an error).
func (s *Service) optimize(ctx context.Context, lr *liveRun, v settled) (*report.Report, error) {
	run := lr.snapshot()
	ns, name := run.Namespace, run.Name
	rep := &report.Report{Function: ns + "/" + name, RunID: run.ID, Mode: v.Mode, Objective: v.objective,
		Tolerance: v.tolerance, Candidates: v.candidates, Started: s.o.Now().UTC()}
	live, err := s.o.Actions.Get(ctx, probe.DocID(ns, name))
	if err != nil {
		return rep, fmt.Errorf("optimizer: read the action: %w", err)
	}
	rep.Current = currentSetting(live)

	if s.o.Traffic != nil || v.Mode != ModeActive {
		if pr := s.passive(ns, name, v); pr.Enough || v.Mode != ModeActive {
			rep.Passive = &report.Passive{PassiveResult: pr}
		}
	}
	if v.Mode == ModePassive {
		if p := rep.Passive; p != nil && p.Decision != nil {
			rep.Recommendation = &report.Recommendation{Setting: report.Setting{MemoryMB: p.Decision.MemoryMB},
				Source: "passive", Why: p.Decision.Why}
			rep.Saving = passiveSaving(p.Sizes, rep.Current.MemoryMB, p.Decision)
		}
		return rep, nil
	}

	copies, err := probe.NewCopies(ctx, s.o.Actions, ns, name, run.ID)
	if err != nil {
		if errors.Is(err, probe.ErrNotCopyable) {
			return rep, &requestError{msg: err.Error(), kind: errors.Join(err, ErrInvalid)}
		}
		return rep, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if err := copies.Remove(cctx); err != nil {
			s.log.Error("deleting probe copies", "run", run.ID, "err", err)
		}
	}()
	pace := s.pace(ctx, ns)
	limit := time.Duration(live.Limits.Timeout) * time.Millisecond
	tester := probe.NewTester(probe.TesterOptions{Copies: copies, Invoker: s.guard(ns, name), Namespace: ns,
		Payloads: v.payloads, MaxInvocations: v.MaxInvocations + gpuRuns(v), MaxGBSeconds: v.MaxGBSeconds,
		Concurrency: pace.concurrency, Pacer: s.pacer(ns, pace.perMinute, pace.nsConcurrency),
		Wait: limit + s.o.ProbeMargin, WaitWhy: fmt.Sprintf("the action's time limit %s plus the margin %s", limit, s.o.ProbeMargin),
		Observe: func(o search.Observation) { s.observe(lr, o) }, Logger: s.o.Logger})
	res, err := search.Run(ctx, tester, search.Config{Candidates: v.candidates, Objective: v.objective,
		Tolerance: v.tolerance, MaxInvocations: v.MaxInvocations, MaxGBSeconds: v.MaxGBSeconds,
		TimeoutMs: live.Limits.Timeout, Concurrency: pace.concurrency})
	// Said in the report whatever the outcome, GPU probes included.
	defer func() {
		rep.Warnings = append(rep.Warnings, pace.warnings(tester)...)
		rep.Throttle = pace.report(tester)
	}()
	rep.Active = &res
	rep.Invocations, rep.GBSeconds = tester.Spent()
	if err != nil {
		return rep, err
	}
	rep.Warnings = append(rep.Warnings, warnings(res)...)
	d := res.Decision
	if d.MemoryMB == 0 {
		return rep, nil
	}
	rep.Recommendation = &report.Recommendation{Setting: report.Setting{MemoryMB: d.MemoryMB}, Source: "active",
		Predicted: d.Predicted, Why: d.Why}
	rep.Saving = report.EstimateSaving(res.Points, rep.Current.MemoryMB, d.MemoryMB, d.MedianMs)
	if v.GPU {
		var seen []string
		for _, p := range res.Points {
			if p.MemoryMB == d.MemoryMB {
				for _, o := range append(append([]search.Observation{}, p.Cold...), p.Warm...) {
					seen = append(seen, o.ActivationID)
				}
			}
		}
		var gw []string
		rep.GPU, gw = s.measureGPU(ctx, tester, d.MemoryMB, seen)
		rep.Warnings = append(rep.Warnings, gw...)
		if g := rep.GPU.Recommendation; g != nil {
			rep.Recommendation.GPUNum = &g.GPUNum
			if g.GPUNum > 0 {
				rep.Recommendation.GPUMemorySize, rep.Recommendation.GPUPercentage = &g.GPUMemorySize, &g.GPUPercentage
			}
		}
		rep.Invocations, rep.GBSeconds = tester.Spent()
	}
	if v.Apply {
		// The intent first: a restart that finds a run stored with a
		// setting to apply finishes applying it (Cleanup), so a kill
		// between the two never leaves the action changed and the run
		// failed.
		s.storeIntent(ctx, lr, rep)
		if err := s.apply(ctx, ns, name, run, rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// storeIntent stores lr as running with rep, whose recommendation is
// about to be applied.
func (s *Service) storeIntent(ctx context.Context, lr *liveRun, rep *report.Report) {
	lr.mu.Lock()
	run := lr.run
	lr.mu.Unlock()
	intent := *rep
	intent.Applied = &report.Applied{At: s.o.Now().UTC(), By: run.By, Setting: rep.Recommendation.Setting}
	run.Report, run.Updated = &intent, s.o.Now().UTC()
	if err := s.st.Put(ctx, run); err != nil {
		s.log.Warn("storing the setting an optimization is about to apply", "run", run.ID, "err", err)
	}
}

// observe records an observation of a live run and, now and then, stores
// its progress.
func (s *Service) observe(lr *liveRun, o search.Observation) {
	lr.mu.Lock()
	lr.obs = append(lr.obs, o)
	lr.run.Progress.Done = len(lr.obs)
	lr.run.Updated = s.o.Now().UTC()
	save := time.Since(lr.saved) >= saveEvery
	if save {
		lr.saved = time.Now()
	}
	run := lr.run
	lr.mu.Unlock()
	if save {
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		defer cancel()
		if err := s.st.Put(ctx, run); err != nil && s.ctx.Err() == nil {
			s.log.Warn("storing optimization progress", "run", run.ID, "err", err)
		}
	}
}

// currentSetting reads the live action's memory and GPU annotations.
func currentSetting(a entity.Action) report.Setting {
	st := report.Setting{MemoryMB: a.Limits.Memory}
	for key, dst := range map[string]**int{probe.AnnotationGPUNum: &st.GPUNum,
		probe.AnnotationGPUMemorySize: &st.GPUMemorySize, probe.AnnotationGPUPercentage: &st.GPUPercentage} {
		if raw, ok := a.Annotations.Get(key); ok {
			var n int
			if json.Unmarshal(raw, &n) == nil {
				*dst = &n
			}
		}
	}
	return st
}

// warnings notes what the caller should know about the measurements.
func warnings(res search.Result) []string {
	var out []string
	appErr, total := 0, 0
	for _, p := range res.Points {
		for _, o := range append(append([]search.Observation{}, p.Cold...), p.Warm...) {
			total++
			if o.Outcome == search.AppError {
				appErr++
			}
		}
	}
	if appErr > 0 {
		out = append(out, fmt.Sprintf("%d of %d invocations ended with an error of the action itself (not of its memory): check the payloads", appErr, total))
	}
	if !res.Settled && res.Decision.MemoryMB > 0 {
		out = append(out, "the decision is not statistically settled ("+res.StopReason+"); a larger maxInvocations would settle it")
	}
	return out
}

// errNotRunnable stops probing a function that may no longer run.
var errNotRunnable = errors.New("optimizer: the function may no longer run")

// guard wraps the invoker: before every invocation it checks that the
// function may still run (a function BLOCKED meanwhile runs no code, not
// even its probes).
func (s *Service) guard(ns, name string) probe.Invoker {
	return guardInvoker{s: s, ns: ns, name: name}
}

type guardInvoker struct {
	s        *Service
	ns, name string
}

func (g guardInvoker) Invoke(ctx context.Context, ns, action string, payload json.RawMessage) (probe.Activation, error) {
	var st State
	ok := false
	if g.s.o.StateOf != nil {
		st, ok = g.s.o.StateOf(g.ns, g.name)
	}
	if !ok {
		f, err := g.s.o.Functions.Function(ctx, g.ns, g.name)
		if err != nil {
			return probe.Activation{}, fmt.Errorf("optimizer: check %s/%s: %w", g.ns, g.name, err)
		}
		st = f.State
	}
	if !st.Runnable() {
		return probe.Activation{}, fmt.Errorf("%w: %s/%s became %s during the optimization; stopped", errNotRunnable, g.ns, g.name, st)
	}
	return g.s.o.Invoker.Invoke(ctx, ns, action, payload)
}

// pacing is how fast a run's probes may go: a share of the namespace's
// throttle (OpenWhisk's invocationsPerMinute and concurrentInvocations),
// the rest left to the user's own traffic.
type pacing struct {
	perMinute, concurrency int
	// nsConcurrency bounds the probes of all the namespace's runs at
	// once (0: the throttle is unknown).
	nsConcurrency int
	throttle      Throttle
	share         float64
}

// pace reads the namespace's throttle and takes the service's share of it.
// An unknown throttle leaves the concurrency as configured and no pace.
func (s *Service) pace(ctx context.Context, ns string) pacing {
	p := pacing{concurrency: s.o.Concurrency, share: s.o.ThrottleShare}
	th, err := s.o.Deployment.Throttle(ctx, ns)
	if err != nil {
		s.log.Warn("reading the namespace's throttle; probing at the configured concurrency", "namespace", ns, "err", err)
		return p
	}
	p.throttle = th
	if th.PerMinute > 0 {
		p.perMinute = max(1, int(math.Floor(s.o.ThrottleShare*float64(th.PerMinute))))
	}
	if th.Concurrent > 0 {
		p.nsConcurrency = max(1, int(math.Floor(s.o.ThrottleShare*float64(th.Concurrent))))
		p.concurrency = min(p.concurrency, p.nsConcurrency)
	}
	return p
}

// report is the report's account of the throttle.
func (p pacing) report(t *probe.Tester) *report.Throttle {
	n, waited := t.Throttled()
	return &report.Throttle{NamespacePerMinute: p.throttle.PerMinute, NamespaceConcurrent: p.throttle.Concurrent,
		Share: p.share, PerMinute: p.perMinute, Concurrent: p.nsConcurrency, Refusals: n,
		BackoffMs: float64(waited) / float64(time.Millisecond)}
}

// warnings says what the throttle did to the probes.
func (p pacing) warnings(t *probe.Tester) []string {
	n, waited := t.Throttled()
	if n == 0 {
		return nil
	}
	return []string{fmt.Sprintf("the namespace's throttle refused %d probe invocation(s) with 429 (probes of the namespace's runs kept to %d a minute and %d at once together, %.0f%% of its %d a minute and %d at once); they backed off %s in all and were retried",
		n, p.perMinute, p.nsConcurrency, 100*p.share, p.throttle.PerMinute, p.throttle.Concurrent, waited.Round(time.Millisecond))}
}
