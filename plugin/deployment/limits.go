package deployment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/reqerr"
)

// Keys gives the API key ("uuid:key") of a namespace
// (plugin/subjects.Source implements it).
type Keys interface {
	KeyFor(ctx context.Context, ns string) (string, error)
}

// Where each bound comes from, as a 400 names it.
const (
	SourceRoot           = "the controller's %s (GET /)"
	SourceNamespace      = "the namespace's %s (GET /api/v1/namespaces/%s/limits)"
	SourcePings          = "MAX_MEMORY, the largest invoker user memory (health pings)"
	SourceConfigured     = "MAX_MEMORY (--max-memory, FNMGR_MAX_MEMORY)"
	SourceMultiple       = "the 64 MB step fnmgr sizes memory in"
	fallbackMinMemoryMB  = 64
	fallbackSourceMinMem = "fnmgr's smallest memory size"
)

// Bound is one end of a range and where it comes from.
type Bound struct {
	Value  int    `json:"value"`
	Source string `json:"source"`
}

// Range is what one limit may be: Min.Value ≤ v ≤ Max.Value, in Unit.
type Range struct {
	Min  Bound  `json:"min"`
	Max  Bound  `json:"max"`
	Unit string `json:"unit"`
}

// ErrOutOfBounds marks a limit outside the deployment's range (errors.Is);
// such errors also wrap registry.ErrInvalid, so the admin API answers 400.
var ErrOutOfBounds = errors.New("outside the deployment's limits")

// BoundError is a limit outside the deployment's range.
type BoundError struct {
	Field string
	Value int
	Unit  string
	Bound Bound
	Above bool // above the maximum (else below the minimum)
}

func (e *BoundError) Error() string {
	verb := "is below"
	if e.Above {
		verb = "exceeds"
	}
	return fmt.Sprintf("%s %d %s %s %d %s, %s: %s", e.Field, e.Value, e.Unit, verb, e.Bound.Value, e.Unit, e.Bound.Source, registry.ErrInvalid)
}

// Sentence is what a client reads (reqerr.Sentencer): the field's name as
// the request carries it first.
func (e *BoundError) Sentence() string {
	verb := "is below"
	if e.Above {
		verb = "exceeds"
	}
	return fmt.Sprintf("%s %d %s %s %d %s, %s.", e.Field, e.Value, e.Unit, verb, e.Bound.Value, e.Unit, e.Bound.Source)
}

// Unwrap makes it a registry.ErrInvalid.
func (e *BoundError) Unwrap() error { return registry.ErrInvalid }

// Is makes it an ErrOutOfBounds.
func (e *BoundError) Is(target error) bool { return target == ErrOutOfBounds }

// Check returns an error naming field, the bound it passes and where the
// bound comes from, such as "memorySize 1024 MB exceeds 512 MB, the
// controller's max_action_memory (GET /)".
func (r Range) Check(field string, v int) error {
	switch {
	case v > r.Max.Value:
		return &BoundError{Field: field, Value: v, Unit: r.Unit, Bound: r.Max, Above: true}
	case v < r.Min.Value:
		return &BoundError{Field: field, Value: v, Unit: r.Unit, Bound: r.Min}
	}
	return nil
}

// Fit is v moved into r: the nearest bound when it lies outside (an
// unknown maximum, 0, bounds nothing).
func (r Range) Fit(v int) int {
	switch {
	case r.Max.Value > 0 && v > r.Max.Value:
		return r.Max.Value
	case v < r.Min.Value:
		return r.Min.Value
	}
	return v
}

// Limits are the ranges of an action's limits in one namespace: the
// tightest of the invoker pool (memory only), the controller's GET / and
// the namespace's GET …/limits.
type Limits struct {
	Memory  Range `json:"memory"`
	Timeout Range `json:"timeout"`
	Logs    Range `json:"logs"`
}

// Throttle is the namespace's invocation throttle (OpenWhisk's
// invocationsPerMinute and concurrentInvocations; 0: unknown).
type Throttle struct {
	InvocationsPerMinute  int    `json:"invocationsPerMinute"`
	ConcurrentInvocations int    `json:"concurrentInvocations"`
	Source                string `json:"source"`
}

// namespaceLimits is the body of GET /api/v1/namespaces/{ns}/limits
// (OpenWhisk's UserLimits as the controller answers it, memory and logs in
// MB, timeouts in ms: core/controller/.../controller/Namespaces.scala and
// common/scala/.../entity/UserLimits.scala). A field is 0 when absent.
type namespaceLimits struct {
	InvocationsPerMinute  int `json:"invocationsPerMinute"`
	ConcurrentInvocations int `json:"concurrentInvocations"`
	MinActionMemory       int `json:"minActionMemory"`
	MaxActionMemory       int `json:"maxActionMemory"`
	MinActionTimeout      int `json:"minActionTimeout"`
	MaxActionTimeout      int `json:"maxActionTimeout"`
	MinActionLogs         int `json:"minActionLogs"`
	MaxActionLogs         int `json:"maxActionLogs"`
}

type nsEntry struct {
	l       *namespaceLimits // nil: the controller does not offer the route, or no key
	fetched time.Time
}

// errNoRoute means the controller has no GET …/limits (OpenWhisk before
// 2021 and the controller image Helm pins answer 404).
var errNoRoute = errors.New("no namespace limits route")

func (i *Info) namespace(ctx context.Context, ns string) (*namespaceLimits, error) {
	if i.o.Keys == nil || ns == "" {
		return nil, nil
	}
	i.mu.Lock()
	e, ok := i.ns[ns]
	i.mu.Unlock()
	if ok && time.Since(e.fetched) < i.o.Refresh {
		return e.l, nil
	}
	l, err := i.fetchNamespace(ctx, ns)
	switch {
	case errors.Is(err, errNoRoute):
		l = nil
	case err != nil:
		return nil, err
	}
	i.mu.Lock()
	i.ns[ns] = nsEntry{l: l, fetched: time.Now()}
	i.mu.Unlock()
	return l, nil
}

func (i *Info) fetchNamespace(ctx context.Context, ns string) (*namespaceLimits, error) {
	key, err := i.o.Keys.KeyFor(ctx, ns)
	if err != nil {
		// A namespace no subject owns runs nothing; its bounds are the
		// controller's.
		return nil, errNoRoute
	}
	user, pass, _ := strings.Cut(key, ":")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, i.o.ControllerURL+"/api/v1/namespaces/"+url.PathEscape(ns)+"/limits", nil)
	if err != nil {
		return nil, fmt.Errorf("deployment: %w", err)
	}
	req.SetBasicAuth(user, pass)
	resp, err := i.o.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("deployment: read namespace %s's limits: %w", ns, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
		return nil, errNoRoute
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("deployment: controller GET /api/v1/namespaces/%s/limits answered %s", ns, resp.Status)
	}
	var l namespaceLimits
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		return nil, fmt.Errorf("deployment: decode namespace %s's limits: %w", ns, err)
	}
	return &l, nil
}

// Limits returns the ranges of an action's limits in namespace ns. Memory's
// maximum is the smallest of MAX_MEMORY (when known), the controller's
// max_action_memory and the namespace's maxActionMemory (when the
// controller offers GET …/limits); its minimum the largest of the
// minimums. With no ping and no --max-memory, the controller's limits bound
// memory alone. It fails when no maximum is known at all.
func (i *Info) Limits(ctx context.Context, ns string) (Limits, error) {
	root, err := i.Root(ctx)
	if err != nil {
		return Limits{}, err
	}
	nl, err := i.namespace(ctx, ns)
	if err != nil {
		return Limits{}, err
	}
	sl := root.Limits
	mb := func(b int64) int { return int(b >> 20) }
	rootSrc := func(field string) string { return fmt.Sprintf(SourceRoot, field) }
	nsSrc := func(field string) string { return fmt.Sprintf(SourceNamespace, field, ns) }
	var l Limits
	l.Memory = Range{Unit: "MB", Min: Bound{fallbackMinMemoryMB, fallbackSourceMinMem}}
	l.Timeout = Range{Unit: "ms"}
	l.Logs = Range{Unit: "MB"}
	lower := func(b *Bound, v int, src string) {
		if v > 0 && v > b.Value {
			*b = Bound{v, src}
		}
	}
	upper := func(b *Bound, v int, src string) {
		if v > 0 && (b.Value == 0 || v < b.Value) {
			*b = Bound{v, src}
		}
	}
	if pool := i.poolMemoryMB(); pool > 0 {
		src := SourcePings
		if i.o.MaxMemoryMB > 0 {
			src = SourceConfigured
		}
		l.Memory.Max = Bound{pool, src}
	}
	lower(&l.Memory.Min, mb(sl.MinActionMemory), rootSrc("min_action_memory"))
	upper(&l.Memory.Max, mb(sl.MaxActionMemory), rootSrc("max_action_memory"))
	lower(&l.Timeout.Min, int(sl.MinActionDuration), rootSrc("min_action_duration"))
	upper(&l.Timeout.Max, int(sl.MaxActionDuration), rootSrc("max_action_duration"))
	lower(&l.Logs.Min, mb(sl.MinActionLogs), rootSrc("min_action_logs"))
	upper(&l.Logs.Max, mb(sl.MaxActionLogs), rootSrc("max_action_logs"))
	if nl == nil {
		// Without the namespace's own limits, its defaults: OpenWhisk
		// allows a namespace its override, else the namespace default
		// (default_*), never beyond the system's bound
		// (common/scala/.../core/entity/Identity.scala,
		// allowedMaxActionMemory and its kin). An override above the
		// default is not known here: the default holds, failing closed.
		lower(&l.Memory.Min, mb(sl.DefaultMinActionMemory), rootSrc("default_min_action_memory"))
		upper(&l.Memory.Max, mb(sl.DefaultMaxActionMemory), rootSrc("default_max_action_memory"))
		lower(&l.Timeout.Min, int(sl.DefaultMinActionDuration), rootSrc("default_min_action_duration"))
		upper(&l.Timeout.Max, int(sl.DefaultMaxActionDuration), rootSrc("default_max_action_duration"))
		lower(&l.Logs.Min, mb(sl.DefaultMinActionLogs), rootSrc("default_min_action_logs"))
		upper(&l.Logs.Max, mb(sl.DefaultMaxActionLogs), rootSrc("default_max_action_logs"))
	} else {
		// GET …/limits answers what the namespace is allowed (its
		// override or the namespace default, within the system's bound).
		lower(&l.Memory.Min, nl.MinActionMemory, nsSrc("minActionMemory"))
		upper(&l.Memory.Max, nl.MaxActionMemory, nsSrc("maxActionMemory"))
		lower(&l.Timeout.Min, nl.MinActionTimeout, nsSrc("minActionTimeout"))
		upper(&l.Timeout.Max, nl.MaxActionTimeout, nsSrc("maxActionTimeout"))
		lower(&l.Logs.Min, nl.MinActionLogs, nsSrc("minActionLogs"))
		upper(&l.Logs.Max, nl.MaxActionLogs, nsSrc("maxActionLogs"))
	}
	if l.Memory.Max.Value == 0 {
		return l, reqerr.New(reqerr.Invalid, "the largest action memory is unknown: no invoker health ping seen, none configured (--max-memory) and the controller's GET / names no max_action_memory")
	}
	// OpenWhisk's own defaults where the controller says nothing
	// (common/scala/src/main/resources/application.conf: whisk.timeout-limit
	// 100ms..5m, whisk.log-limit 0..10MB).
	if l.Timeout.Min.Value == 0 {
		l.Timeout.Min = Bound{100, "OpenWhisk's default min action duration"}
	}
	if l.Timeout.Max.Value == 0 {
		l.Timeout.Max = Bound{300000, "OpenWhisk's default max action duration"}
	}
	if l.Logs.Max.Value == 0 {
		l.Logs.Max = Bound{10, "OpenWhisk's default max action logs"}
	}
	return l, nil
}

// MemoryBounds is the memory range (MB) of an action in namespace ns and,
// in source, where its maximum comes from. The optimizer keeps its
// candidates inside it.
func (i *Info) MemoryBounds(ctx context.Context, ns string) (minMB, maxMB int, source string, err error) {
	l, err := i.Limits(ctx, ns)
	if err != nil {
		return 0, 0, "", err
	}
	return l.Memory.Min.Value, l.Memory.Max.Value, l.Memory.Max.Source, nil
}

// Throttle is namespace ns's invocation throttle: the namespace's
// invocationsPerMinute and concurrentInvocations when the controller offers
// GET …/limits, else the controller's actions_per_minute and
// concurrent_actions from GET /.
func (i *Info) Throttle(ctx context.Context, ns string) (Throttle, error) {
	root, err := i.Root(ctx)
	if err != nil {
		return Throttle{}, err
	}
	nl, err := i.namespace(ctx, ns)
	if err != nil {
		return Throttle{}, err
	}
	if nl != nil && nl.InvocationsPerMinute > 0 {
		return Throttle{InvocationsPerMinute: nl.InvocationsPerMinute, ConcurrentInvocations: nl.ConcurrentInvocations,
			Source: fmt.Sprintf("GET /api/v1/namespaces/%s/limits", ns)}, nil
	}
	return Throttle{InvocationsPerMinute: root.Limits.ActionsPerMinute, ConcurrentInvocations: root.Limits.ConcurrentActions,
		Source: "GET /"}, nil
}

// FitLimits is l with its memory, timeout and logs moved into namespace
// ns's ranges. fnmgr's stubs take it: a stub only answers a refusal, and a
// stub that kept limits the deployment refuses (an action written straight
// into CouchDB with 1024 MB where 512 is the most) would fail every
// activation with OpenWhisk's limits error (InvokerReactive →
// checkLimits) instead of saying why the function may not run. When the
// ranges are unknown, l is returned unchanged with the error.
func (i *Info) FitLimits(ctx context.Context, ns string, l entity.Limits) (entity.Limits, error) {
	r, err := i.Limits(ctx, ns)
	if err != nil {
		return l, err
	}
	l.Memory = r.Memory.Fit(l.Memory)
	l.Timeout = r.Timeout.Fit(l.Timeout)
	l.Logs = r.Logs.Fit(l.Logs)
	return l, nil
}

// CheckLimits checks the limits fnmgr is about to write on an action of
// namespace ns (nil: not written); field names the settings as the request
// does ("memorySize", "limits.memory").
func (i *Info) CheckLimits(ctx context.Context, ns string, memory, timeout, logs *int, field func(string) string) error {
	if memory == nil && timeout == nil && logs == nil {
		return nil
	}
	l, err := i.Limits(ctx, ns)
	if err != nil {
		return err
	}
	if memory != nil {
		if err := l.Memory.Check(field("memory"), *memory); err != nil {
			return err
		}
	}
	if timeout != nil {
		if err := l.Timeout.Check(field("timeout"), *timeout); err != nil {
			return err
		}
	}
	if logs != nil {
		if err := l.Logs.Check(field("logs"), *logs); err != nil {
			return err
		}
	}
	return nil
}
