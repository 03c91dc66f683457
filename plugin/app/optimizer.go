package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fnmgr/fnmgr/kafka/message"

	"github.com/fnmgr/fnmgr/optimizer"
	"github.com/fnmgr/fnmgr/optimizer/search"
	"github.com/fnmgr/fnmgr/plugin/analyzer"
	"github.com/fnmgr/fnmgr/plugin/api"
	"github.com/fnmgr/fnmgr/plugin/deployment"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/versions"
)

// The core's side of the optimizer's interfaces (optimizer/ports.go): the
// optimizer is a library and imports nothing under plugin/; these adapt
// the registry, the version controller, the analyzer and the deployment to
// what it asks for. They are exported for the optimizer's integration
// tests against the local stack (tests/optimizerstack).

// kindError keeps err's text and puts kind (an optimizer sentinel) in its
// chain beside err's own.
type kindError struct{ err, kind error }

func (e kindError) Error() string   { return e.err.Error() }
func (e kindError) Unwrap() []error { return []error{e.err, e.kind} }

// OptimizerFunctions reads functions from the registry.
type OptimizerFunctions struct{ Registry *registry.Store }

// Function implements optimizer.Functions.
func (f OptimizerFunctions) Function(ctx context.Context, ns, name string) (optimizer.Function, error) {
	fn, err := f.Registry.GetFunction(ctx, ns, name)
	if err != nil {
		if errors.Is(err, registry.ErrNotFound) {
			return optimizer.Function{}, kindError{err, optimizer.ErrNotFound}
		}
		return optimizer.Function{}, err
	}
	st := optimizer.State(fn.State)
	if fn.Gone {
		st = optimizer.StateRetired
	}
	return optimizer.Function{Namespace: ns, Name: name, State: st}, nil
}

// OptimizerApplier applies a result through the version controller (which
// checks it against the deployment and records the new config) and adds
// the history entry.
type OptimizerApplier struct {
	Registry   *registry.Store
	Versions   *versions.Controller
	Deployment versions.Deployment
}

// Apply implements optimizer.Applier.
func (a OptimizerApplier) Apply(ctx context.Context, ns, name string, app optimizer.Application) error {
	s := app.Setting
	mem := s.MemoryMB
	req := api.ConfigRequest{MemorySize: &mem, GPUNum: s.GPUNum, GPUMemorySize: s.GPUMemorySize, GPUPercentage: s.GPUPercentage}
	if _, err := a.Versions.SetConfig(ctx, ns, name, req, a.Deployment); err != nil {
		return err
	}
	f, err := a.Registry.GetFunction(ctx, ns, name)
	if err != nil {
		return fmt.Errorf("record the applied setting: %w", err)
	}
	h := registry.History{From: f.State, To: f.State, By: app.By, Reason: app.Reason, Revision: f.Head.Revision}
	if err := a.Registry.AddHistory(ctx, ns, name, h); err != nil {
		return fmt.Errorf("record the applied setting: %w", err)
	}
	return nil
}

// OptimizerTraffic reads real traffic's statistics from the analyzer.
type OptimizerTraffic struct{ Analyzer *analyzer.Analyzer }

// Samples implements optimizer.Traffic.
func (t OptimizerTraffic) Samples(ns, name string) ([]search.Sample, bool) {
	st, ok := t.Analyzer.Stats(ns + "/" + name)
	if !ok {
		return nil, false
	}
	out := make([]search.Sample, 0, len(st.ByMemory))
	for _, m := range st.ByMemory {
		out = append(out, search.Sample{MemoryMB: m.MemoryMB, Count: m.Count, Errors: m.Errors,
			ColdStarts: m.ColdStarts, MedianMs: m.MedianMs, MeanMs: m.MeanMs})
	}
	return out, true
}

// OptimizerDeployment gives the optimizer the deployment's bounds from
// plugin/deployment: per namespace, the tightest of MAX_MEMORY (the largest
// invoker user memory, or --max-memory), the controller's GET / limits
// (OpenWhisk's core/controller/.../controller/Controller.scala, the "limits"
// of its info route) and the namespace's own limits and throttle
// (GET /api/v1/namespaces/{ns}/limits where the controller offers it:
// UserLimits, common/scala/.../core/entity/Identity.scala), each bound
// named with where it comes from.
type OptimizerDeployment struct{ Info *deployment.Info }

// MemoryBounds implements optimizer.Deployment with deployment.Info.Limits.
// A deployment whose largest size is unknown (no ping, no --max-memory, no
// max_action_memory) gives MaxMB 0, which the optimizer refuses to size.
func (d OptimizerDeployment) MemoryBounds(ctx context.Context, ns string) (optimizer.Bounds, error) {
	l, err := d.Info.Limits(ctx, ns)
	if errors.Is(err, registry.ErrInvalid) {
		return optimizer.Bounds{MinMB: l.Memory.Min.Value, MinFrom: l.Memory.Min.Source}, nil
	}
	if err != nil {
		return optimizer.Bounds{}, err
	}
	return optimizer.Bounds{MinMB: l.Memory.Min.Value, MaxMB: l.Memory.Max.Value,
		MinFrom: l.Memory.Min.Source, MaxFrom: l.Memory.Max.Source}, nil
}

// Throttle implements optimizer.Deployment with the namespace's throttle
// (deployment.Info.Throttle: its GET …/limits where offered, else the
// controller's actions_per_minute and concurrent_actions of GET /).
func (d OptimizerDeployment) Throttle(ctx context.Context, ns string) (optimizer.Throttle, error) {
	th, err := d.Info.Throttle(ctx, ns)
	if err != nil {
		return optimizer.Throttle{}, err
	}
	return optimizer.Throttle{PerMinute: th.InvocationsPerMinute, Concurrent: th.ConcurrentInvocations}, nil
}

// MaxGPUNum implements optimizer.Deployment.
func (d OptimizerDeployment) MaxGPUNum() int { return d.Info.MaxGPUNum() }

// OptimizerInvokers remembers which invoker ran the latest activations,
// from the user events on the events topic (an Activation EventMessage's
// source is the invoker's "invoker<N>": OpenWhisk's common/scala/src/main/
// scala/org/apache/openwhisk/core/ack/MessagingActiveAck.scala), for the
// optimizer's GPU measurement. Feed it every events message (Handle).
type OptimizerInvokers struct {
	cap  int
	wait time.Duration

	mu      sync.Mutex
	source  map[string]string // activation id → invoker
	order   []string          // ids, oldest first, at most cap
	changed chan struct{}     // closed and replaced on every record
}

// NewOptimizerInvokers remembers the last capacity activations; InvokerOf
// waits up to wait for an event not yet seen (events trail the
// activation's answer).
func NewOptimizerInvokers(capacity int, wait time.Duration) *OptimizerInvokers {
	return &OptimizerInvokers{cap: capacity, wait: wait, source: map[string]string{}, changed: make(chan struct{})}
}

// Handle records an events message's activation and invoker; it never
// fails (the analyzer reports malformed messages).
func (x *OptimizerInvokers) Handle(_ context.Context, _ string, value []byte) error {
	var e message.Event
	if message.Decode(value, &e) != nil || e.Activation == nil || e.Activation.ActivationID == "" || e.Source == "" {
		return nil
	}
	x.record(e.Activation.ActivationID, e.Source)
	return nil
}

func (x *OptimizerInvokers) record(id, source string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.source[id]; !ok {
		x.order = append(x.order, id)
		if len(x.order) > x.cap {
			delete(x.source, x.order[0])
			x.order = x.order[1:]
		}
	}
	x.source[id] = source
	close(x.changed)
	x.changed = make(chan struct{})
}

// InvokerOf implements optimizer.Invokers.
func (x *OptimizerInvokers) InvokerOf(ctx context.Context, id string) (string, bool) {
	deadline := time.NewTimer(x.wait)
	defer deadline.Stop()
	for {
		x.mu.Lock()
		src, ok := x.source[id]
		changed := x.changed
		x.mu.Unlock()
		if ok {
			return src, true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return "", false
		case <-ctx.Done():
			return "", false
		}
	}
}
