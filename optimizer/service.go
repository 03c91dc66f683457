// Package optimizer is fnmgr's Fn PreEnv Optimizer: it finds the run-time
// settings (memory, and GPU settings where DCGM can measure them) that an
// action needs, by probing temporary copies of it (optimizer/probe) under
// an adaptive search (optimizer/search), and from the activations real
// traffic produced (passive mode); it stores a report of every run
// (optimizer/report) in its Store, and applies the result when asked.
//
// Service is what the admin API calls: Start, Get, Cancel and Chart, plus
// OnNewFunction for the change feed's policy trigger. Create it with New,
// call Cleanup once at start (it deletes probe copies a crash left behind
// and marks runs it interrupted as failed), and Stop when shutting down.
// A Service is safe for concurrent use.
package optimizer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/optimizer/gpu"
	"github.com/fnmgr/fnmgr/optimizer/probe"
	"github.com/fnmgr/fnmgr/optimizer/report"
)

// Options configure a Service. Functions, Store, Actions, Invoker and
// Deployment are required.
type Options struct {
	// Functions reads the functions (their state).
	Functions Functions
	// Store keeps the runs (CouchStore in fnmgr).
	Store Store
	// Actions writes and deletes the probe copies (plugin/openwhisk.Actions).
	Actions probe.Actions
	// Whisks lists the whisks database for Cleanup (probe.DBLister).
	Whisks probe.Lister
	// Invoker calls the copies through the OpenWhisk REST API
	// (probe.NewClient).
	Invoker probe.Invoker
	// Deployment bounds the sizes and the probes' pace.
	Deployment Deployment
	// Applier applies a result; without it a request with apply is
	// refused.
	Applier Applier
	// Traffic is real traffic's statistics; without it passive mode
	// reports no data.
	Traffic Traffic
	// GPU measures GPU use during GPU probes; without it the report says
	// "GPU measurement unavailable".
	GPU gpu.Sampler
	// Invokers tells which invoker ran a probe, whose node's GPUs are then
	// sampled; without it, or when it does not know, GPUNode is sampled
	// ("" for the sampler's default).
	Invokers Invokers
	GPUNode  string
	// StateOf reports a function's state (the gateway's table, say);
	// probing stops when a function may no longer run. By default
	// Functions is read before every invocation.
	StateOf func(ns, name string) (State, bool)
	// Policy triggers runs from OnNewFunction; PolicyRequest is the
	// request they use (payloads default to one empty object).
	Policy        Policy
	PolicyRequest Request
	// MaxRuns bounds the runs probing at once (default 2); more wait,
	// queued. Concurrency bounds one run's probes at once (default 2).
	MaxRuns     int
	Concurrency int
	// ProbeMargin is added to the action's time limit to bound every wait
	// for a probe (default DefaultProbeMargin).
	ProbeMargin time.Duration
	// ThrottleShare is the share of the namespace's throttle
	// (invocations per minute, concurrent invocations) probes may use
	// (default DefaultThrottleShare: half is left to the user).
	ThrottleShare float64
	Logger        *slog.Logger
	Now           func() time.Time
	// Registerer takes fnmgr_optimizer_runs_total; none when nil.
	Registerer prometheus.Registerer
}

// Defaults of Options.
const (
	DefaultProbeMargin   = 30 * time.Second
	DefaultThrottleShare = 0.5
)

// Service runs optimizations.
type Service struct {
	o     Options
	log   *slog.Logger
	st    Store
	ctx   context.Context
	stop  context.CancelFunc
	slots chan struct{}
	wg    sync.WaitGroup

	mu     sync.Mutex
	live   map[string]*liveRun     // by document id
	pacers map[string]*probe.Pacer // by namespace: runs at once share its pace

	// runs counts the runs that ended, by status (alerted on when failed).
	runs *prometheus.CounterVec
}

// pacer returns namespace ns's pace, shared by its runs: perMinute starts
// a minute and concurrent invocations at once between them (0: no bound).
func (s *Service) pacer(ns string, perMinute, concurrent int) *probe.Pacer {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pacers[ns]
	if p == nil {
		p = probe.NewPacer(perMinute)
		s.pacers[ns] = p
	} else {
		p.SetPerMinute(perMinute)
	}
	p.SetConcurrent(concurrent)
	return p
}

// New checks o and returns a Service; it starts nothing.
func New(o Options) (*Service, error) {
	switch {
	case o.Functions == nil || o.Store == nil:
		return nil, errors.New("optimizer: the functions and a store for runs are required")
	case o.Actions == nil || o.Invoker == nil:
		return nil, errors.New("optimizer: the OpenWhisk actions store and invoker are required")
	case o.Deployment == nil:
		return nil, errors.New("optimizer: the deployment's limits are required")
	}
	if o.MaxRuns <= 0 {
		o.MaxRuns = 2
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 2
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ProbeMargin <= 0 {
		o.ProbeMargin = DefaultProbeMargin
	}
	if o.ThrottleShare == 0 {
		o.ThrottleShare = DefaultThrottleShare
	}
	if o.ThrottleShare < 0 || o.ThrottleShare > 1 {
		return nil, fmt.Errorf("optimizer: throttle share %g must be above 0 and at most 1", o.ThrottleShare)
	}
	if o.Policy == "" {
		o.Policy = PolicyOff
	}
	if !o.Policy.Valid() {
		return nil, fmt.Errorf("optimizer: policy %q must be off, new or annotated", o.Policy)
	}
	runs := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "fnmgr", Subsystem: "optimizer", Name: "runs_total",
		Help: "Optimization runs that ended, by status (succeeded, failed, cancelled)."}, []string{"status"})
	for _, st := range []Status{Succeeded, Failed, Cancelled} {
		runs.WithLabelValues(string(st))
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(runs); err != nil {
			return nil, fmt.Errorf("optimizer: metrics: %w", err)
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Service{o: o, log: o.Logger.With("component", "optimizer"), st: o.Store,
		ctx: ctx, stop: stop, slots: make(chan struct{}, o.MaxRuns), live: map[string]*liveRun{}, pacers: map[string]*probe.Pacer{}, runs: runs}, nil
}

// newID returns a run id: time-ordered, lowercase letters and digits (it
// is part of the probe copies' action names).
func (s *Service) newID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatInt(s.o.Now().UnixMilli(), 36) + hex.EncodeToString(b[:])
}

// Start validates req and starts optimizing function ns/name; it returns
// the run id at once. Validation errors wrap ErrInvalid, an
// unknown function ErrNotFound; a function that may not run gives
// ErrConflict (BLOCKED, or a run already going), ErrLocked (UPDATING) or
// ErrGone (RETIRED).
func (s *Service) Start(ctx context.Context, ns, name string, req Request, by string) (string, error) {
	f, err := s.o.Functions.Function(ctx, ns, name)
	if err != nil {
		return "", err
	}
	if err := runnable(f); err != nil {
		return "", err
	}
	a, err := s.o.Actions.Get(ctx, probe.DocID(ns, name))
	if err != nil {
		if errors.Is(err, whiskdb.ErrNotFound) {
			return "", requestErr(ErrNotFound, "the action %s/%s does not exist", ns, name)
		}
		return "", fmt.Errorf("optimizer: read the action %s/%s: %w", ns, name, err)
	}
	if a.Exec.Kind == entity.KindSequence {
		return "", invalid("%s/%s is a sequence: its components carry the memory limits; optimize them instead", ns, name)
	}
	v, err := validate(ctx, ns, req, s.o.Deployment)
	if err != nil {
		return "", err
	}
	if v.Apply && s.o.Applier == nil {
		return "", invalid("apply is not available: no applier is wired")
	}
	s.mu.Lock()
	for _, lr := range s.live {
		if r := lr.snapshot(); r.Namespace == ns && r.Name == name && !r.Status.Done() {
			s.mu.Unlock()
			return "", requestErr(ErrConflict, "optimization %s of %s/%s is still %s", r.ID, ns, name, r.Status)
		}
	}
	now := s.o.Now().UTC()
	r := Run{ID: s.newID(), Namespace: ns, Name: name, Status: Queued, Request: v.stored(), By: by, Created: now, Updated: now}
	if v.Mode != ModePassive {
		r.Progress.Total = v.MaxInvocations + gpuRuns(v)
	}
	runCtx, cancel := context.WithCancel(s.ctx)
	lr := &liveRun{run: r, cancel: cancel}
	s.live[RunID(ns, name, r.ID)] = lr
	s.mu.Unlock()
	if err := s.st.Put(ctx, r); err != nil {
		cancel()
		s.mu.Lock()
		delete(s.live, RunID(ns, name, r.ID))
		s.mu.Unlock()
		return "", err
	}
	s.log.Info("optimization started", "function", ns+"/"+name, "run", r.ID, "objective", v.objective, "mode", v.Mode, "by", by)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		s.execute(runCtx, lr, v)
	}()
	return r.ID, nil
}

// runnable refuses functions whose code may not run now.
func runnable(f Function) error {
	fqn := f.Namespace + "/" + f.Name
	switch f.State {
	case StateRetired:
		return requestErr(ErrGone, "%s is retired", fqn)
	case StateUpdating:
		return requestErr(ErrLocked, "%s is being updated; try again when it is done", fqn)
	case StateBlocked:
		return requestErr(ErrConflict, "%s is BLOCKED and its code may not run; unblock it first", fqn)
	}
	return nil
}

// Get returns run id of ns/name: its status, progress and report (a
// report of the measurements so far while it runs).
func (s *Service) Get(ctx context.Context, ns, name, id string) (Run, error) {
	s.mu.Lock()
	lr := s.live[RunID(ns, name, id)]
	s.mu.Unlock()
	if lr != nil {
		return lr.snapshot(), nil
	}
	return s.st.Get(ctx, ns, name, id)
}

// List returns the runs of ns/name, newest first: those of this process as
// they are now, the others as stored. An unknown function is ErrNotFound.
func (s *Service) List(ctx context.Context, ns, name string) ([]Run, error) {
	if _, err := s.o.Functions.Function(ctx, ns, name); err != nil {
		return nil, err
	}
	stored, err := s.st.List(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	byID := map[string]Run{}
	for _, r := range stored {
		byID[r.ID] = r
	}
	s.mu.Lock()
	for _, lr := range s.live {
		if r := lr.snapshot(); r.Namespace == ns && r.Name == name {
			byID[r.ID] = r
		}
	}
	s.mu.Unlock()
	out := make([]Run, 0, len(byID))
	for _, r := range byID {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// Cancel stops run id. Its probe copies are deleted; what was measured is
// kept in its report. Cancelling a run that has ended does nothing.
func (s *Service) Cancel(ctx context.Context, ns, name, id string) error {
	s.mu.Lock()
	lr := s.live[RunID(ns, name, id)]
	s.mu.Unlock()
	if lr != nil {
		lr.markCancel()
		return nil
	}
	d, err := s.st.Get(ctx, ns, name, id)
	if err != nil {
		return err
	}
	if d.Status.Done() {
		return nil
	}
	// Stored as running but not running here: left by a previous process.
	now := s.o.Now().UTC()
	d.Status, d.Updated, d.Finished, d.Error = Cancelled, now, &now, "cancelled after fnmgr restarted"
	return s.st.Put(ctx, d)
}

// Chart draws run id's report as an SVG (the measurements so far while it
// runs).
func (s *Service) Chart(ctx context.Context, ns, name, id string) ([]byte, error) {
	r, err := s.Get(ctx, ns, name, id)
	if err != nil {
		return nil, err
	}
	if r.Report == nil {
		return report.Chart(report.Report{Function: ns + "/" + name, RunID: id}), nil
	}
	return report.Chart(*r.Report), nil
}

// Stop cancels every run and waits, within ctx, for them to delete their
// probe copies and store their reports.
func (s *Service) Stop(ctx context.Context) error {
	s.stop()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("optimizer: runs did not stop: %w", ctx.Err())
	}
}
