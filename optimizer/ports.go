package optimizer

import (
	"context"
	"errors"

	"github.com/fnmgr/fnmgr/optimizer/report"
	"github.com/fnmgr/fnmgr/optimizer/search"
)

// The optimizer is a library: it imports nothing of the core (plugin/…).
// What it needs of the core it names here as small interfaces, which
// plugin/app adapts (plugin/app/optimizer.go): reading a function
// (Functions), applying a result (Applier), real traffic's statistics
// (Traffic), the deployment's bounds and throttles (Deployment), and where
// runs are kept (Store). Probe copies are written through probe.Actions and
// invoked through probe.Invoker.

// Errors a Service returns, wrapped; the admin API maps them to HTTP
// statuses (400, 404, 409, 423, 410).
var (
	ErrInvalid  = errors.New("invalid request")     // 400
	ErrNotFound = errors.New("not found")           // 404
	ErrConflict = errors.New("conflict")            // 409
	ErrLocked   = errors.New("function is locked")  // 423: UPDATING
	ErrGone     = errors.New("function is retired") // 410
)

// State is a function's lifecycle state (SPEC.md section 3).
type State string

// States, spelled as the registry spells them.
const (
	StateLatest    State = "LATEST"
	StatePublished State = "PUBLISHED"
	StateBlocked   State = "BLOCKED"
	StateUpdating  State = "UPDATING"
	StateRetired   State = "RETIRED"
)

// Runnable reports whether a function in state s may run its code.
func (s State) Runnable() bool { return s == StateLatest || s == StatePublished }

// Function is what the optimizer reads of a function.
type Function struct {
	Namespace, Name string
	// State is RETIRED too for a function whose action is gone.
	State State
}

// Functions reads functions. Function answers an error wrapping
// ErrNotFound for a function the core does not know.
type Functions interface {
	Function(ctx context.Context, ns, name string) (Function, error)
}

// Application is a result to apply to a function's action.
type Application struct {
	Setting report.Setting
	// By is who asked ("optimizer" for the policy), Reason the history
	// entry's text.
	By, Reason string
}

// Applier writes a setting to a function's action within the deployment's
// limits and records it in the function's history (plugin/app adapts the
// version controller and the registry). Its errors are returned to the
// caller as they are.
type Applier interface {
	Apply(ctx context.Context, ns, name string, a Application) error
}

// Traffic reports, per memory size, what real traffic of ns/name showed
// (plugin/app adapts the activation analyzer); false when it saw none.
type Traffic interface {
	Samples(ns, name string) ([]search.Sample, bool)
}

// Bounds are the memory sizes a namespace's actions may have.
type Bounds struct {
	MinMB, MaxMB int
	// MinFrom and MaxFrom say where each bound comes from (the
	// controller's min_action_memory, MAX_MEMORY, a namespace limit), for
	// messages that name it.
	MinFrom, MaxFrom string
}

// Throttle is a namespace's invocation limits (0: none known).
type Throttle struct {
	// PerMinute is invocationsPerMinute, Concurrent concurrentInvocations
	// (OpenWhisk's per-namespace throttles, the controller's GET /
	// actions_per_minute and concurrent_actions by default).
	PerMinute, Concurrent int
}

// Deployment is what the OpenWhisk deployment allows: the memory bounds
// probes and results stay within, the throttle probes share with the
// user, and the most GPUs a node offers.
type Deployment interface {
	MemoryBounds(ctx context.Context, ns string) (Bounds, error)
	Throttle(ctx context.Context, ns string) (Throttle, error)
	MaxGPUNum() int
}

// Invokers tells which invoker ran an activation ("invoker0"), so the GPU
// of the right node is sampled. OpenWhisk's activation record does not say;
// its user events do: the invoker sends an EventMessage whose source is its
// InvokerInstanceId.source, "invoker<N>" (common/scala/src/main/scala/org/
// apache/openwhisk/core/ack/MessagingActiveAck.scala, core/entity/
// InstanceId.scala). plugin/app adapts the events topic; InvokerOf waits a
// little for the event and answers false without one (user events off).
type Invokers interface {
	InvokerOf(ctx context.Context, activationID string) (string, bool)
}
