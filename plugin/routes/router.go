package routes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fnmgr/fnmgr/plugin/gateway"
	"github.com/fnmgr/fnmgr/plugin/httpapi"
	"github.com/fnmgr/fnmgr/plugin/registry"
)

// Resolver turns the caller's Basic credentials into their own namespace
// (what "_" means) and every namespace they may act in. It must answer from
// memory on the hot path (a cache). An error wrapping ErrUnknownCredentials
// means the credentials are known to be wrong (the controller answers the
// caller with its own 401); any other error means they could not be checked.
type Resolver func(ctx context.Context, uuid, key string) (own string, entitled []string, err error)

// ErrUnknownCredentials is what a Resolver wraps for credentials that no
// subject holds (unknown, deleted, blocked): not a failure to check them.
var ErrUnknownCredentials = errors.New("routes: unknown credentials")

// ResolveTimeout bounds one credential lookup.
const ResolveTimeout = 2 * time.Second

// retryAfterSeconds is the Retry-After sent when a lookup failed.
const retryAfterSeconds = 2

// msgLookupFailed answers a call refused because the caller's credentials
// could not be checked. It names no credential.
const msgLookupFailed = "The gateway could not check the caller's credentials (the subjects database did not answer in time), so it cannot tell whether this function may run; try again shortly."

// RouterOptions configure a Router.
type RouterOptions struct {
	// FailOpen lets a call through to the controller when the caller's
	// credentials cannot be checked (the lifecycle is then not enforced
	// by the gateway for that call). Off by default: such calls are
	// refused with 503 and a Retry-After.
	FailOpen bool
	// Logger gets one line per failed lookup (never the credentials).
	Logger *slog.Logger
	// Registerer takes the lookup failure counter; none when nil.
	Registerer prometheus.Registerer
}

// Router is the gateway's decision hook: lifecycle refusals (423 for
// BLOCKED and UPDATING, 410 for RETIRED) on invocations of and writes to a
// function and its versions and aliases, and weighted routing of
// name@alias to name@N.
type Router struct {
	table    *Table
	resolve  Resolver
	failOpen bool
	log      *slog.Logger
	failures *prometheus.CounterVec
}

// NewRouter returns a Router over table. It fails only when o.Registerer
// refuses its metric.
func NewRouter(table *Table, resolve Resolver, o RouterOptions) (*Router, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rt := &Router{table: table, resolve: resolve, failOpen: o.FailOpen, log: log.With("component", "routes"),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "fnmgr", Subsystem: "gateway",
			Name: "credential_lookup_failures_total",
			Help: "Calls whose caller's credentials could not be checked, by what the gateway did: refused (503) or passed (--gateway-fail-open).",
		}, []string{"action"})}
	rt.failures.WithLabelValues("refused")
	rt.failures.WithLabelValues("passed")
	if o.Registerer != nil {
		if err := o.Registerer.Register(rt.failures); err != nil {
			return nil, fmt.Errorf("routes: register metrics: %w", err)
		}
	}
	return rt, nil
}

var _ gateway.Router = (*Router)(nil)

// target is the action a request addresses.
type target struct {
	ns, pkg, name string // name may carry @suffix
	invoke, write bool
	// path is the escaped path; the name's segment (with a web action's
	// extension) is path[nameStart:nameEnd].
	path               string
	nameStart, nameEnd int
	ext                string // web action extension, kept on rewrite
	web                bool   // a web action: public, no credentials
}

// Route implements gateway.Router. It reads the table's current snapshot
// without locking, and calls the Resolver only for a path on the caller's
// own namespace "_" that names a function the table may act on.
func (rt *Router) Route(r *http.Request) gateway.Decision {
	t, ok := parse(r)
	if !ok || (!t.invoke && !t.write) {
		return gateway.Decision{}
	}
	base, suffix, managed := registry.SplitManaged(t.name)
	if !managed {
		base = t.name
	}
	fn := base
	if t.pkg != "" {
		fn = t.pkg + "/" + base
	}
	if t.ns == "_" && !rt.table.decisive(fn) {
		return gateway.Decision{} // whoever calls, nothing to refuse or route
	}
	if t.ns != "_" {
		if _, ok := rt.table.Lookup(t.ns, fn); !ok {
			return gateway.Decision{}
		}
	}
	// The gateway acts only for callers entitled to the namespace (web
	// actions are public): anyone else gets the controller's own 401 or
	// 403, and learns nothing of another namespace's functions.
	if t.ns == "_" || !t.web {
		uuid, key, ok := r.BasicAuth()
		if !ok || rt.resolve == nil {
			return gateway.Decision{}
		}
		ctx, cancel := context.WithTimeout(r.Context(), ResolveTimeout)
		own, entitled, err := rt.resolve(ctx, uuid, key)
		cancel()
		if errors.Is(err, ErrUnknownCredentials) {
			return gateway.Decision{} // the controller answers 401
		}
		if err != nil {
			return rt.lookupFailed(r, t, fn, err)
		}
		if t.ns == "_" {
			t.ns = own
		}
		if !t.web && !slices.Contains(entitled, t.ns) {
			return gateway.Decision{}
		}
	}
	e, ok := rt.table.Lookup(t.ns, fn)
	if !ok {
		return gateway.Decision{}
	}
	if d, refused := refusal(t.ns, fn, e.State); refused {
		return d
	}
	if !managed || !t.invoke {
		return gateway.Decision{}
	}
	routing, isAlias := e.Aliases[suffix]
	if !isAlias || len(routing) == 0 {
		return gateway.Decision{}
	}
	v := Pick(routing)
	return gateway.Decision{Path: t.path[:t.nameStart] + url.PathEscape(base+"@"+strconv.Itoa(v)) + t.ext + t.path[t.nameEnd:]}
}

// lookupFailed decides a call whose caller could not be checked: refused
// with 503 unless the operator chose availability (FailOpen).
func (rt *Router) lookupFailed(r *http.Request, t target, fn string, err error) gateway.Decision {
	// The function's name only: t.ns may be "_", and err never holds the key.
	attrs := []any{"request_id", httpapi.RequestID(r.Context()), "method", r.Method, "namespace", t.ns, "function", fn, "err", err}
	if rt.failOpen {
		rt.failures.WithLabelValues("passed").Inc()
		rt.log.WarnContext(r.Context(), "credential lookup failed; letting the call through (--gateway-fail-open)", attrs...)
		return gateway.Decision{}
	}
	rt.failures.WithLabelValues("refused").Inc()
	rt.log.WarnContext(r.Context(), "credential lookup failed; refusing the call", attrs...)
	return gateway.Decision{Status: http.StatusServiceUnavailable, Message: msgLookupFailed, RetryAfter: retryAfterSeconds}
}

func refusal(ns, fn string, s registry.State) (gateway.Decision, bool) {
	switch s {
	case registry.Blocked:
		return gateway.Decision{Status: http.StatusLocked,
			Message: fmt.Sprintf("Function %s/%s is BLOCKED: its invocations and updates are refused until it is unblocked.", ns, fn)}, true
	case registry.Updating:
		return gateway.Decision{Status: http.StatusLocked,
			Message: fmt.Sprintf("Function %s/%s is UPDATING: its invocations and updates are refused until the update ends.", ns, fn)}, true
	case registry.Retired:
		return gateway.Decision{Status: http.StatusGone,
			Message: fmt.Sprintf("Function %s/%s is RETIRED and no longer runs.", ns, fn)}, true
	}
	return gateway.Decision{}, false
}

// parse recognises /api/v1/namespaces/{ns}/actions/[{pkg}/]{name} and
// /api/v1/web/{ns}/{pkg|default}/{name}[.ext][/...], without allocating
// for paths without escapes.
func parse(r *http.Request) (target, bool) {
	const v1 = "/api/v1/"
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, v1) {
		return target{}, false
	}
	kind, rest, ok := strings.Cut(p[len(v1):], "/")
	if !ok {
		return target{}, false
	}
	off := len(v1) + len(kind) + 1 // where rest starts in p
	t := target{path: p}
	switch kind {
	case "namespaces":
		ns, rest, ok := strings.Cut(rest, "/")
		if !ok {
			return target{}, false
		}
		coll, rest, ok := strings.Cut(rest, "/")
		if !ok || coll != "actions" {
			return target{}, false
		}
		off += len(ns) + len(coll) + 2
		nameSeg := rest
		if pkg, name, ok := strings.Cut(rest, "/"); ok {
			if strings.IndexByte(name, '/') >= 0 {
				return target{}, false
			}
			t.pkg, nameSeg = unescape(pkg), name
			off += len(pkg) + 1
		}
		t.ns, t.name = unescape(ns), unescape(nameSeg)
		t.nameStart, t.nameEnd = off, off+len(nameSeg)
		if t.name == "" {
			return target{}, false // a list
		}
		t.invoke = r.Method == http.MethodPost
		t.write = r.Method == http.MethodPut || r.Method == http.MethodDelete
	case "web":
		t.web = true
		ns, rest, ok := strings.Cut(rest, "/")
		if !ok {
			return target{}, false
		}
		pkg, rest, ok := strings.Cut(rest, "/")
		if !ok {
			return target{}, false
		}
		nameSeg, _, _ := strings.Cut(rest, "/")
		off += len(ns) + len(pkg) + 2
		t.ns = unescape(ns)
		if pkg := unescape(pkg); pkg != "default" {
			t.pkg = pkg
		}
		t.nameStart, t.nameEnd = off, off+len(nameSeg)
		name := unescape(nameSeg)
		if i := strings.LastIndexByte(name, '.'); i > 0 {
			switch name[i:] {
			case ".json", ".http", ".html", ".svg", ".text":
				name, t.ext = name[:i], name[i:]
			}
		}
		t.name = name
		t.invoke = true
	default:
		return target{}, false
	}
	return t, true
}

// unescape decodes one path segment; a malformed one stays as it is.
func unescape(s string) string {
	d, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return d
}
