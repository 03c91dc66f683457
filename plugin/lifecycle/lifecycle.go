// Package lifecycle is fnmgr's Fn Lifecycle Controller: the transitions of
// SPEC.md section 3 (block, unblock, update, retire, purge), each recorded
// as an intent in the function's registry document before OpenWhisk is
// touched, so that Recover finishes or undoes any transition a crash cut
// short. While a function may not run, the Version Controller keeps stubs
// in place of its code on every OpenWhisk action that would run it.
package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/reqerr"
	"github.com/fnmgr/fnmgr/plugin/versions"
)

// Invoker runs an action through OpenWhisk's API as namespace ns (the
// update's test invocation) and returns an error when it did not succeed.
type Invoker interface {
	Invoke(ctx context.Context, ns, action string, payload json.RawMessage) (json.RawMessage, error)
}

// Options configure a Controller.
type Options struct {
	Registry Registry
	Versions *versions.Controller
	Invoker  Invoker
	// Rules, when set, are the deployment's action rules an update must
	// keep (plugin/deployment.Info).
	Rules Rules
	// DefaultGrace is how long a retired function waits before its purge
	// when the request names none (default 24h).
	DefaultGrace time.Duration
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
	Now          func() time.Time
}

// Controller is safe for concurrent use.
type Controller struct {
	reg         Registry
	ver         *versions.Controller
	inv         Invoker
	grace       time.Duration
	log         *slog.Logger
	now         func() time.Time
	transitions *prometheus.CounterVec
	wake        chan struct{} // a retire asks the purge loop to look again
	rules       Rules

	mu       sync.Mutex
	carrying map[string]int // functions whose transition this process carries out now
	stranded atomic.Bool    // a transition ended in an error with its intent still recorded
}

// New returns a Controller.
func New(o Options) *Controller {
	if o.DefaultGrace <= 0 {
		o.DefaultGrace = 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Controller{reg: o.Registry, ver: o.Versions, inv: o.Invoker, grace: o.DefaultGrace,
		log: o.Logger.With("component", "lifecycle"), now: o.Now, wake: make(chan struct{}, 1), rules: o.Rules, carrying: map[string]int{},
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "fnmgr", Subsystem: "lifecycle",
			Name: "transitions_total", Help: "Lifecycle transitions completed, by operation and resulting state."},
			[]string{"op", "state"})}
	if o.Registerer != nil {
		o.Registerer.MustRegister(c.transitions)
	}
	return c
}

// lockFunction takes ns/name's lock (the Version Controller's, so that no
// observed change interleaves with a transition) and reads the function.
// The caller runs unlock when done, whatever the error.
func (c *Controller) lockFunction(ctx context.Context, ns, name string) (f registry.Function, unlock func(), err error) {
	unlock = versions.Lock(ns, name)
	f, err = c.reg.GetFunction(ctx, ns, name)
	return f, unlock, err
}

// refuse is op's answer for a function that is UPDATING (ErrLocked: its
// update is under way) or RETIRED (ErrGone); nil in any other state.
func refuse(f registry.Function, op string) error {
	switch f.State {
	case registry.Updating:
		return locked(f, op)
	case registry.Retired:
		return gone(f, op)
	}
	if f.Revisions == 0 && f.Untracked != "" {
		// Nothing recorded to write stubs from or to restore later.
		return reqerr.New(reqerr.Conflict, "%s: function %s has no recorded revision: fnmgr cannot read its code (%s)",
			op, f.FQN(), f.Untracked)
	}
	return nil
}

// syncAndReload records what OpenWhisk holds for ns/name now (a change
// made meanwhile becomes the head) and reads the function again; f, as
// the caller had it, comes back when the sync fails.
func (c *Controller) syncAndReload(ctx context.Context, ns, name string, f registry.Function) (registry.Function, error) {
	if err := c.ver.Sync(ctx, ns, name); err != nil {
		return f, err
	}
	return c.reg.GetFunction(ctx, ns, name)
}

func locked(f registry.Function, op string) error {
	return reqerr.New(reqerr.Locked, "%s: function %s is UPDATING", op, f.FQN())
}

func gone(f registry.Function, op string) error {
	return reqerr.New(reqerr.Gone, "%s: function %s is RETIRED", op, f.FQN())
}

// begin records the intent t and the state it leads to. Once it returns
// without error, the caller carries the transition to its end on the
// context detached returns: a caller that goes away (a replica that
// forwarded the write killed, a client that hung up) must not leave the
// intent half done until the next leader's Recover.
func (c *Controller) begin(ctx context.Context, f registry.Function, t registry.Transition, apply func(*registry.Function)) (registry.Function, error) {
	t.Started = c.now().UTC()
	return c.reg.Update(ctx, f.Namespace, f.Name, func(f *registry.Function) error {
		if f.Transition != nil {
			return reqerr.New(reqerr.Locked, "function %s has a %s in progress", f.FQN(), f.Transition.Op)
		}
		tt := t
		f.Transition = &tt
		apply(f)
		return nil
	})
}

// carry marks f's transition as carried out by this process until the
// func it returns runs (deferred by the operation, with its error). An
// operation that failed after its intent was recorded may leave it there
// (a write that failed, a timeout): the purge loop then finishes it as
// Recover does at start (recoverStranded), so that it does not wait for
// the next leader.
func (c *Controller) carry(f registry.Function, err *error) func() {
	c.mu.Lock()
	c.carrying[f.ID]++
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		if c.carrying[f.ID]--; c.carrying[f.ID] <= 0 {
			delete(c.carrying, f.ID)
		}
		c.mu.Unlock()
		if *err != nil {
			c.stranded.Store(true)
			c.poke()
		}
	}
}

func (c *Controller) carried(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.carrying[id] > 0
}

// poke wakes the purge loop.
func (c *Controller) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// detached is ctx without its cancellation: the context a transition runs
// on from its recorded intent to its end. Fencing still stops a deposed
// leader's writes (every registry write checks the lease's epoch).
func detached(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// finish writes OpenWhisk's actions for f's state, audits the transition
// and clears the intent. The audit record is keyed by the intent's start
// and written before the intent is cleared, so a transition Recover
// finishes again is recorded once. failure, when not nil, is why the
// operation failed (f is back where it was).
func (c *Controller) finish(ctx context.Context, f registry.Function, to registry.State, reason string, failure error) (registry.Function, error) {
	t := f.Transition
	if err := c.ver.Materialize(ctx, f); err != nil {
		return f, fmt.Errorf("lifecycle: %s of %s: %w", t.Op, f.FQN(), err)
	}
	if reason == "" {
		reason = t.Reason
	}
	now := c.now().UTC()
	states := []registry.StateStay{{State: t.From}}
	if t.Op == "update" {
		states = append(states, registry.StateStay{State: registry.Updating, DurationMs: now.Sub(t.Started).Milliseconds()})
	}
	states = append(states, registry.StateStay{State: to})
	h := registry.History{At: now, From: t.From, To: to, By: t.By, Reason: reason, Revision: f.Head.Revision,
		Op: t.Op, Started: t.Started, DurationMs: now.Sub(t.Started).Milliseconds(), States: states, Outcome: registry.OutcomeOK}
	if failure != nil {
		h.Outcome, h.Error = registry.OutcomeFailed, failure.Error()
	}
	if err := c.reg.AddHistoryOnce(ctx, f.Namespace, f.Name, t.Started, h); err != nil {
		return f, err
	}
	f, err := c.reg.Update(ctx, f.Namespace, f.Name, func(f *registry.Function) error {
		f.Transition = nil
		return nil
	})
	if err != nil {
		return f, err
	}
	c.transitions.WithLabelValues(t.Op, string(to)).Inc()
	c.log.InfoContext(ctx, "transition done", "function", f.FQN(), "op", t.Op, "from", t.From, "to", to, "by", t.By, "outcome", h.Outcome)
	return f, nil
}

// Block refuses every invocation of ns/name until Unblock.
func (c *Controller) Block(ctx context.Context, ns, name, reason, by string) (_ registry.Function, err error) {
	f, unlock, err := c.lockFunction(ctx, ns, name)
	defer unlock()
	if err != nil {
		return f, err
	}
	if f.State == registry.Blocked {
		return f, nil
	}
	if err := refuse(f, "block"); err != nil {
		return f, err
	}
	f, err = c.begin(ctx, f, registry.Transition{Op: "block", From: f.State, To: registry.Blocked, By: by, Reason: reason},
		func(f *registry.Function) {
			f.PrevState, f.State, f.Reason = f.State, registry.Blocked, reason
		})
	if err != nil {
		return f, err
	}
	ctx = detached(ctx)
	defer c.carry(f, &err)()
	if f, err = c.syncAndReload(ctx, ns, name, f); err != nil {
		return f, err
	}
	return c.finish(ctx, f, registry.Blocked, "", nil)
}

// Unblock returns a blocked function to the state it had before, with its
// actions restored exactly.
func (c *Controller) Unblock(ctx context.Context, ns, name, by string) (_ registry.Function, err error) {
	f, unlock, err := c.lockFunction(ctx, ns, name)
	defer unlock()
	if err != nil {
		return f, err
	}
	switch f.State {
	case registry.Retired:
		return f, gone(f, "unblock")
	case registry.Blocked:
	default:
		return f, reqerr.New(reqerr.Conflict, "unblock: function %s is %s, not BLOCKED", f.FQN(), f.State)
	}
	// Record any change made to the stub while blocked first, so the
	// restore writes the newest code.
	if err := c.ver.Sync(ctx, ns, name); err != nil {
		return f, err
	}
	f, err = c.begin(ctx, f, registry.Transition{Op: "unblock", From: registry.Blocked, By: by},
		func(f *registry.Function) {
			f.State, f.Reason = runnableState(*f), ""
			f.Transition.To = f.State
		})
	if err != nil {
		return f, err
	}
	ctx = detached(ctx)
	defer c.carry(f, &err)()
	return c.finish(ctx, f, f.State, "", nil)
}

// runnableState is the state a function returns to: PUBLISHED when its head
// is a published version, else LATEST.
func runnableState(f registry.Function) registry.State {
	for _, v := range f.Versions {
		if v.Digest == f.Head.Digest {
			return registry.Published
		}
	}
	return registry.Latest
}

// Retire withdraws ns/name: it stops running now and is purged after grace.
func (c *Controller) Retire(ctx context.Context, ns, name, reason, by string, grace time.Duration) (_ registry.Function, err error) {
	f, unlock, err := c.lockFunction(ctx, ns, name)
	defer unlock()
	if err != nil {
		return f, err
	}
	if f.State == registry.Retired {
		return f, nil
	}
	if err := refuse(f, "retire"); err != nil {
		return f, err
	}
	if grace <= 0 {
		grace = c.grace
	}
	// Record what OpenWhisk holds first (a rollback's write the change
	// feed has not delivered yet), so that it is not taken for a change
	// made after the retire.
	if f, err = c.syncAndReload(ctx, ns, name, f); err != nil {
		return f, err
	}
	purgeAt := c.now().UTC().Add(grace)
	f, err = c.begin(ctx, f, registry.Transition{Op: "retire", From: f.State, To: registry.Retired, By: by, Reason: reason},
		func(f *registry.Function) {
			f.PrevState, f.State, f.Reason, f.PurgeAt = f.State, registry.Retired, reason, &purgeAt
		})
	if err != nil {
		return f, err
	}
	ctx = detached(ctx)
	defer c.carry(f, &err)()
	f, err = c.finish(ctx, f, registry.Retired, "", nil)
	c.poke()
	return f, err
}

// History returns the audit of ns/name's transitions.
func (c *Controller) History(ctx context.Context, ns, name string) ([]registry.History, error) {
	if _, err := c.reg.GetFunction(ctx, ns, name); err != nil {
		return nil, err
	}
	return c.reg.History(ctx, ns, name)
}
