package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/fnmgr/fnmgr/optimizer/search"
)

// Classify reads an activation the way the optimizer needs it: running out
// of memory (OpenWhisk's Docker message, or the Kubernetes "exited
// unexpectedly"), a timeout and a failed initialisation make the setting
// infeasible; success and application errors are measurements; a whisk
// internal error is the platform's.
func Classify(a Activation) search.Outcome {
	switch a.Status {
	case "success":
		return search.OK
	case "application error":
		return search.AppError
	case "action developer error":
		e := strings.ToLower(a.Error)
		switch {
		case a.TimedOut || strings.Contains(e, "exceeded its time limits"):
			return search.Timeout
		case strings.Contains(e, "exhausted its memory"), strings.Contains(e, "exited unexpectedly"):
			return search.OOM
		case strings.Contains(e, "failed during initialization"), strings.Contains(e, "did not initialize"):
			return search.InitFailure
		}
		return search.AppError // a bug of the action with this payload, not of the setting
	}
	return search.SystemError
}

// Payload is one of the caller's inputs, drawn in proportion to Weight.
type Payload struct {
	Body   json.RawMessage
	Weight float64
}

// TesterOptions configure a Tester.
type TesterOptions struct {
	Copies  *Copies
	Invoker Invoker
	// Namespace the copies live in (the function's).
	Namespace string
	Payloads  []Payload
	// MaxInvocations and MaxGBSeconds are hard budgets (0: none): past
	// them Probe answers search.ErrBudget.
	MaxInvocations int
	MaxGBSeconds   float64
	// Concurrency bounds probes running at once (default 2).
	Concurrency int
	// Retries of an invocation the platform refused (429, 5xx, network),
	// with a growing pause from RetryPause (defaults 3 and 500 ms); a 429
	// waits its Retry-After instead when it gives one (at most
	// MaxRetryAfter, default 1 minute).
	Retries       int
	RetryPause    time.Duration
	MaxRetryAfter time.Duration
	// Wait bounds each invocation attempt, polling included: the action's
	// time limit plus a margin (0: no bound but ctx's).
	Wait time.Duration
	// WaitWhy says what Wait is made of, for errors ("the action's time
	// limit 1m0s plus the margin 30s").
	WaitWhy string
	// PerMinute paces the invocations: at most this many start in any
	// minute (0: no pace). Concurrency bounds them at once. Pacer, when
	// set, is a pace shared with other testers and wins over PerMinute.
	PerMinute int
	Pacer     *Pacer
	// Observe, when set, sees every observation as it is made.
	Observe func(search.Observation)
	Logger  *slog.Logger
}

// Tester runs the invocations of one optimisation: it implements
// search.Prober over probe copies. Warm and cold runs are told apart (the
// first run of a copy, and any run that reports an initTime, is cold).
type Tester struct {
	o   TesterOptions
	sem chan struct{}
	log *slog.Logger

	mu        sync.Mutex
	inv       int
	gbs       float64
	pacer     *Pacer
	throttled int
	backoff   time.Duration
	runs      map[int]int // invocations made per memory size
	sched     []int       // payload index of the k-th run at any size
	credits   []float64   // smooth weighted round robin state
}

// NewTester returns a Tester.
func NewTester(o TesterOptions) *Tester {
	if o.Concurrency <= 0 {
		o.Concurrency = 2
	}
	if o.Retries <= 0 {
		o.Retries = 3
	}
	if o.RetryPause <= 0 {
		o.RetryPause = 500 * time.Millisecond
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = time.Minute
	}
	if len(o.Payloads) == 0 {
		o.Payloads = []Payload{{Body: json.RawMessage(`{}`), Weight: 1}}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	pacer := o.Pacer
	if pacer == nil && o.PerMinute > 0 {
		pacer = NewPacer(o.PerMinute)
	}
	return &Tester{o: o, sem: make(chan struct{}, o.Concurrency), log: o.Logger.With("component", "optimizer"),
		runs: map[int]int{}, credits: make([]float64, len(o.Payloads)), pacer: pacer}
}

// Spent is what the tester has used so far.
func (t *Tester) Spent() (invocations int, gbSeconds float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.inv, t.gbs
}

// Throttled reports the 429s the probes met and how long they backed off
// in all.
func (t *Tester) Throttled() (refusals int, waited time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.throttled, t.backoff
}

// pace waits until an invocation may start under the pace and returns
// the function that ends it.
func (t *Tester) pace(ctx context.Context) (func(), error) {
	if t.pacer == nil {
		return func() {}, nil
	}
	return t.pacer.Start(ctx)
}

// Pacer lets at most a number of invocations start in any minute, and at
// most a number run at once. Share one between the testers of a
// namespace so that runs at once keep to its share of OpenWhisk's
// throttle together (invocationsPerMinute and concurrentInvocations,
// core/controller/.../entitlement/Entitlement.scala): each run's own
// concurrency bounds only that run. It is safe for concurrent use.
type Pacer struct {
	mu         sync.Mutex
	perMinute  int
	concurrent int
	inflight   int
	starts     []time.Time   // starts within the last minute
	freed      chan struct{} // closed when an invocation ends
}

// NewPacer returns a Pacer of perMinute starts a minute (0: no pace) and
// no bound on invocations at once.
func NewPacer(perMinute int) *Pacer { return &Pacer{perMinute: perMinute, freed: make(chan struct{})} }

// SetPerMinute changes the pace (the namespace's throttle changed).
func (p *Pacer) SetPerMinute(n int) {
	p.mu.Lock()
	p.perMinute = n
	p.mu.Unlock()
}

// SetConcurrent bounds the invocations running at once (0: no bound).
func (p *Pacer) SetConcurrent(n int) {
	p.mu.Lock()
	p.concurrent = n
	p.wakeLocked()
	p.mu.Unlock()
}

func (p *Pacer) wakeLocked() {
	close(p.freed)
	p.freed = make(chan struct{})
}

// Start blocks until a start is allowed, and records it; the invocation
// counts as running until the returned function is called.
func (p *Pacer) Start(ctx context.Context) (func(), error) {
	for {
		p.mu.Lock()
		now := time.Now()
		keep := p.starts[:0]
		for _, s := range p.starts {
			if now.Sub(s) < time.Minute {
				keep = append(keep, s)
			}
		}
		p.starts = keep
		var wait <-chan time.Time
		switch {
		case p.concurrent > 0 && p.inflight >= p.concurrent:
			// wait for an invocation to end
		case p.perMinute > 0 && len(p.starts) >= p.perMinute:
			wait = time.After(time.Minute - now.Sub(p.starts[0]))
		default:
			if p.perMinute > 0 {
				p.starts = append(p.starts, now)
			}
			p.inflight++
			p.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					p.mu.Lock()
					p.inflight--
					p.wakeLocked()
					p.mu.Unlock()
				})
			}, nil
		}
		freed := p.freed
		p.mu.Unlock()
		select {
		case <-wait:
		case <-freed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// payload returns the index of the payload for the k-th run at a size:
// the same sequence at every size (so sizes are compared on the same mix),
// drawn by smooth weighted round robin.
func (t *Tester) payloadLocked(k int) int {
	for len(t.sched) <= k {
		total, best := 0.0, 0
		for i, p := range t.o.Payloads {
			w := p.Weight
			if w <= 0 {
				w = 1
			}
			t.credits[i] += w
			total += w
			if t.credits[i] > t.credits[best] {
				best = i
			}
		}
		t.credits[best] -= total
		t.sched = append(t.sched, best)
	}
	return t.sched[k]
}

// attempt makes one invocation within Wait; a wait that runs out says how
// long it was and what it is made of.
func (t *Tester) attempt(ctx context.Context, action string, pi int) (Activation, error) {
	if t.o.Wait <= 0 {
		return t.o.Invoker.Invoke(ctx, t.o.Namespace, action, t.o.Payloads[pi].Body)
	}
	actx, cancel := context.WithTimeoutCause(ctx, t.o.Wait, errWaitOver)
	defer cancel()
	act, err := t.o.Invoker.Invoke(actx, t.o.Namespace, action, t.o.Payloads[pi].Body)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), errWaitOver) {
		var nc *NotCompletedError
		if errors.As(err, &nc) {
			return act, fmt.Errorf("%w: waited %s (%s)", err, t.o.Wait, t.o.WaitWhy)
		}
		return act, fmt.Errorf("probe: %s/%s gave no answer within %s (%s): %w", t.o.Namespace, action, t.o.Wait, t.o.WaitWhy, ErrWaitOver)
	}
	return act, err
}

// ErrWaitOver is an invocation that outlived its bound (TesterOptions.Wait).
var ErrWaitOver = errors.New("probe: the wait ran out")

var errWaitOver = errors.New("probe: wait over")

// Probe implements search.Prober.
func (t *Tester) Probe(ctx context.Context, memoryMB, n int) ([]search.Observation, error) {
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-t.sem }()
	action, err := t.o.Copies.Ensure(ctx, Limits{MemoryMB: memoryMB})
	if err != nil {
		return nil, err
	}
	var out []search.Observation
	for i := 0; i < n; i++ {
		o, err := t.once(ctx, action, memoryMB)
		if err != nil {
			return out, err
		}
		out = append(out, o)
		if o.Outcome.Infeasible() {
			break
		}
	}
	return out, nil
}

// once runs one invocation at memoryMB, retrying what the platform
// refused.
func (t *Tester) once(ctx context.Context, action string, mem int) (search.Observation, error) {
	t.mu.Lock()
	if t.o.MaxInvocations > 0 && t.inv >= t.o.MaxInvocations {
		t.mu.Unlock()
		return search.Observation{}, search.ErrBudget
	}
	if t.o.MaxGBSeconds > 0 && t.gbs >= t.o.MaxGBSeconds {
		t.mu.Unlock()
		return search.Observation{}, search.ErrBudget
	}
	k := t.runs[mem]
	t.runs[mem]++
	t.inv++
	pi := t.payloadLocked(k)
	t.mu.Unlock()

	var act Activation
	var err error
	for attempt := 0; ; attempt++ {
		var done func()
		if done, err = t.pace(ctx); err != nil {
			break
		}
		act, err = t.attempt(ctx, action, pi)
		done()
		if err == nil || !errors.Is(err, ErrUnavailable) || attempt >= t.o.Retries || ctx.Err() != nil {
			break
		}
		pause := t.o.RetryPause << attempt
		if te := (*ThrottledError)(nil); errors.As(err, &te) {
			if te.HasRetryAfter {
				pause = min(te.RetryAfter, t.o.MaxRetryAfter)
			}
			t.mu.Lock()
			t.throttled++
			t.backoff += pause
			t.mu.Unlock()
		}
		t.log.Warn("probe invocation refused; retrying", "action", t.o.Namespace+"/"+action, "attempt", attempt+1, "pause", pause, "err", err)
		select {
		case <-time.After(pause):
		case <-ctx.Done():
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return search.Observation{}, fmt.Errorf("probe: %d MB: %w", mem, err)
	}
	o := search.Observation{MemoryMB: mem, Payload: pi, Cold: k == 0 || act.InitMs > 0, DurationMs: act.DurationMs,
		InitMs: act.InitMs, WaitMs: act.WaitMs, Outcome: Classify(act), ActivationID: act.ID}
	if o.Outcome != search.OK {
		o.Message = act.Error
	}
	t.mu.Lock()
	t.gbs += o.GBSeconds()
	t.mu.Unlock()
	if t.o.Observe != nil {
		t.o.Observe(o)
	}
	return o, nil
}
