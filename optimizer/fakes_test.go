package optimizer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/optimizer"
	"github.com/fnmgr/fnmgr/optimizer/probe"
	"github.com/fnmgr/fnmgr/optimizer/search"
	"github.com/fnmgr/fnmgr/optimizer/sim"
	"github.com/fnmgr/fnmgr/tests/couchtest"
)

func TestMain(m *testing.M) { couchtest.Main(m) }

// actions is an in-memory whisks database.
type actions struct {
	mu   sync.Mutex
	docs map[string]entity.Action
}

func (a *actions) Get(_ context.Context, docid string) (entity.Action, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	d, ok := a.docs[docid]
	if !ok {
		return entity.Action{}, whiskdb.ErrNotFound
	}
	return d.Clone(), nil
}

func (a *actions) Code(context.Context, entity.Action) ([]byte, error) { return []byte("code"), nil }

func (a *actions) Put(_ context.Context, d entity.Action, _ []byte) (entity.Action, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	d.ID = d.FQN()
	a.docs[d.ID] = d
	return d, nil
}

func (a *actions) Delete(_ context.Context, docid string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.docs, docid)
	return nil
}

func (a *actions) IDs(context.Context) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var ids []string
	for id := range a.docs {
		ids = append(ids, id)
	}
	return ids, nil
}

// copies lists the probe copies present.
func (a *actions) copies() []string {
	ids, _ := a.IDs(context.Background())
	var out []string
	for _, id := range ids {
		if probe.IsProbeName(id) {
			out = append(out, id)
		}
	}
	return out
}

// simInvoker answers invocations of probe copies from a simulated action;
// the live action answers too (so tests can show it keeps serving).
type simInvoker struct {
	f sim.Function

	mu      sync.Mutex
	streams map[string]*rand.Rand
	calls   int
	live    int
	block   chan struct{} // when set, invocations wait for it or ctx
	err     error
}

func (s *simInvoker) Invoke(ctx context.Context, _ string, action string, _ json.RawMessage) (probe.Activation, error) {
	s.mu.Lock()
	block, err := s.block, s.err
	s.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return probe.Activation{}, ctx.Err()
		}
	}
	if err != nil {
		return probe.Activation{}, err
	}
	i := strings.LastIndexByte(action, '-')
	mem, perr := strconv.Atoi(action[i+1:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if perr != nil || !strings.Contains(action, "@fnmgr-probe-") {
		s.live++
		return probe.Activation{ID: "live", Status: "success", DurationMs: 10}, nil
	}
	s.calls++
	r, seen := s.streams[action]
	if !seen {
		r = rand.New(rand.NewPCG(uint64(mem), 99))
		s.streams[action] = r
	}
	o := s.f.Sample(r, mem, !seen)
	a := probe.Activation{ID: "a" + strconv.Itoa(s.calls), DurationMs: o.DurationMs, InitMs: o.InitMs, Status: "success"}
	switch o.Outcome {
	case search.OOM:
		a.Status, a.Error = "action developer error", "The action exhausted its memory and was aborted."
	case search.Timeout:
		a.Status, a.Error, a.TimedOut = "action developer error", "The action exceeded its time limits of 60000 milliseconds.", true
	}
	return a, nil
}

func (s *simInvoker) invocations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// deployment is the local stack's: 128 MB to max MB.
type deployment struct {
	max      int
	throttle optimizer.Throttle
}

func (d deployment) MemoryBounds(context.Context, string) (optimizer.Bounds, error) {
	return optimizer.Bounds{MinMB: 128, MaxMB: d.max, MinFrom: "the controller's min_action_memory", MaxFrom: "MAX_MEMORY"}, nil
}
func (d deployment) Throttle(context.Context, string) (optimizer.Throttle, error) {
	return d.throttle, nil
}
func (d deployment) MaxGPUNum() int { return 2 }

// functions is an in-memory registry of function states.
type functions struct {
	mu     sync.Mutex
	states map[string]optimizer.State
}

func (f *functions) Function(_ context.Context, ns, name string) (optimizer.Function, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.states[ns+"/"+name]
	if !ok {
		return optimizer.Function{}, fmt.Errorf("no function %s/%s: %w", ns, name, optimizer.ErrNotFound)
	}
	return optimizer.Function{Namespace: ns, Name: name, State: st}, nil
}

func (f *functions) set(name string, st optimizer.State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states["guest/"+name] = st
}

// applier records what apply asked for, as the core's history would.
type applier struct {
	mu   sync.Mutex
	apps []optimizer.Application
	err  error
	// hang, when set, holds the first call until it is closed (a process
	// stopped in the middle of applying).
	hang chan struct{}
}

func (c *applier) Apply(_ context.Context, _, _ string, a optimizer.Application) error {
	c.mu.Lock()
	c.apps = append(c.apps, a)
	if hang := c.hang; hang != nil && len(c.apps) == 1 {
		c.mu.Unlock()
		<-hang
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	return c.err
}

func (c *applier) applied() []optimizer.Application {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]optimizer.Application(nil), c.apps...)
}

// traffic is a fake analyzer.
type traffic map[string][]search.Sample

func (t traffic) Samples(ns, name string) ([]search.Sample, bool) {
	s, ok := t[ns+"/"+name]
	return s, ok
}

// fixture is a Service over in-memory fakes of the core.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	fns   *functions
	store *optimizer.MemoryStore
	acts  *actions
	inv   *simInvoker
	conf  *applier
	opts  optimizer.Options
	svc   *optimizer.Service
}

func newFixture(t *testing.T, f sim.Function, mutate ...func(*optimizer.Options)) *fixture {
	t.Helper()
	x := &fixture{t: t, ctx: context.Background(), fns: &functions{states: map[string]optimizer.State{}},
		store: &optimizer.MemoryStore{}, acts: &actions{docs: map[string]entity.Action{}},
		inv: &simInvoker{f: f, streams: map[string]*rand.Rand{}}, conf: &applier{}}
	x.opts = optimizer.Options{Functions: x.fns, Store: x.store, Actions: x.acts, Whisks: x.acts, Invoker: x.inv,
		Deployment: deployment{max: 2048}, Applier: x.conf}
	for _, m := range mutate {
		m(&x.opts)
	}
	x.svc = x.service()
	return x
}

func (x *fixture) service() *optimizer.Service {
	svc, err := optimizer.New(x.opts)
	require.NoError(x.t, err)
	x.t.Cleanup(func() { require.NoError(x.t, svc.Stop(context.Background())) })
	return svc
}

// function registers ns/name as an action at memoryMB in state st.
func (x *fixture) function(name string, memoryMB int, st optimizer.State) {
	x.t.Helper()
	a := entity.Action{Namespace: "guest", Name: name, Exec: entity.Exec{Kind: "nodejs:20", Code: &entity.Code{}},
		Limits: entity.DefaultLimits(), Annotations: entity.KeyValues{}}
	a.Limits.Memory = memoryMB
	_, err := x.acts.Put(x.ctx, a, []byte("code"))
	require.NoError(x.t, err)
	x.fns.set(name, st)
}

func (x *fixture) wait(svc *optimizer.Service, name, id string) optimizer.Run {
	x.t.Helper()
	var r optimizer.Run
	require.Eventually(x.t, func() bool {
		var err error
		r, err = svc.Get(x.ctx, "guest", name, id)
		require.NoError(x.t, err)
		return r.Status.Done()
	}, 20e9, 5e6)
	return r
}

func flat() sim.Function {
	for _, f := range sim.Suite() {
		if f.Name == "flat" {
			f.OutlierRate, f.Noise = 0, 0.005
			return f
		}
	}
	panic("no flat")
}

var errDown = errors.New("controller down")
