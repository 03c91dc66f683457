package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fnmgr/fnmgr/plugin/httpapi"
)

// DefaultMaxBodyBytes bounds request bodies.
const DefaultMaxBodyBytes = 1 << 20

// Options configures the admin API.
type Options struct {
	// Logger gets one line per request and the errors handlers meet.
	Logger *slog.Logger
	// Metrics counts and times requests; optional.
	Metrics *httpapi.Metrics
	// Gatherer is what /metrics exposes (the app's registry). Required.
	Gatherer prometheus.Gatherer
	// Authenticator resolves Basic credentials. Required.
	Authenticator Authenticator
	// AdminToken is the Bearer token that reaches every namespace; empty
	// refuses Bearer credentials.
	AdminToken string
	// Ready reports why the daemon is not ready (nil or empty: ready).
	// When nil, /readyz always answers 200.
	Ready func(ctx context.Context) []string
	// Warnings, when set, say what the daemon runs without; /readyz shows
	// them and still answers 200.
	Warnings func(ctx context.Context) []string
	// MaxBodyBytes bounds request bodies (DefaultMaxBodyBytes when zero).
	MaxBodyBytes int64
	// Functions serves the function endpoints; they answer 501 when nil.
	Functions *Functions
	// Controllers is the gateway's controller set behind /v1/controllers;
	// those endpoints answer 501 when nil.
	Controllers Controllers
	// Leadership, when set, serves GET /v1/leader, and function writes on
	// a replica that does not lead are forwarded to the leader (with the
	// caller's credentials); when nil this replica carries out every write
	// and /v1/leader answers 501.
	Leadership Leadership
	// ReplicaID names this replica on the writes it forwards.
	ReplicaID string
	// LeaderWait bounds how long a write waits for a leader while none
	// is known (the lease changing hands) before it is answered 503
	// (DefaultLeaderWait when zero; negative: no wait).
	LeaderWait time.Duration
}

// API is the admin API's http.Handler.
type API struct {
	opts    Options
	log     *slog.Logger
	router  *mux.Router
	proxy   http.Handler
	handler http.Handler
	// ops maps an operationId to its handler; operations missing here
	// answer 501.
	ops map[string]http.HandlerFunc
}

// New builds the admin API.
func New(o Options) (*API, error) {
	if o.Gatherer == nil {
		return nil, errors.New("admin: Options.Gatherer is required")
	}
	if o.Authenticator == nil {
		return nil, errors.New("admin: Options.Authenticator is required")
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Every line logged with a request's context names its request id.
	log = slog.New(httpapi.LogHandler(log.Handler()))
	a := &API{opts: o, log: log.With("component", "admin")}
	a.ops = map[string]http.HandlerFunc{
		"healthz": a.healthz,
		"readyz":  a.readyz,
		"metrics": a.metrics(),
		"openapi": a.openapi,
	}
	if o.Functions != nil {
		for op, h := range o.Functions.ops(a) {
			a.ops[op] = h
		}
	}
	if o.Controllers != nil {
		for op, h := range controllerOps(a, o.Controllers) {
			a.ops[op] = h
		}
	}
	if o.Leadership != nil {
		a.ops["getLeader"] = a.getLeader
		a.proxy = a.newProxy()
	}
	a.build()
	return a, nil
}

// build makes the router from the route table and a.ops.
func (a *API) build() {
	a.router = a.newRouter()
	a.handler = httpapi.Observe(httpapi.ObserveOptions{
		Server:  "admin",
		Logger:  a.log,
		Metrics: a.opts.Metrics,
	}, a.router)
}

// ServeHTTP serves the admin API.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

func (a *API) newRouter() *mux.Router {
	r := mux.NewRouter().UseEncodedPath()
	r.NotFoundHandler = http.HandlerFunc(a.notFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(a.methodNotAllowed)
	for _, rt := range routes {
		h, ok := a.ops[rt.op]
		if !ok {
			h = a.notImplemented(rt)
		}
		// Path before Methods: mux v1.8.1 forgets a method mismatch when a
		// later route's first matcher succeeds, so the path must be checked first.
		r.Path(rt.path).Methods(rt.method).Name(rt.op).Handler(a.wrap(rt, h))
	}
	return r
}

// wrap adds what every route does before its handler: record the route
// template, bound the body, and (unless public) authenticate and authorize.
func (a *API) wrap(rt route, h http.Handler) http.Handler {
	tmpl := template(rt.path)
	if rt.admin {
		h = adminOnly(h)
	}
	if !rt.public {
		h = a.authenticate(h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpapi.SetRoute(r, tmpl)
		if r.ContentLength > a.opts.MaxBodyBytes {
			a.tooLarge(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, a.opts.MaxBodyBytes)
		if a.forwarded(rt, r) {
			if a.awaitLeader(r) {
				h.ServeHTTP(w, r) // this replica took the lead meanwhile
				return
			}
			a.forward(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (a *API) notFound(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteError(w, r, http.StatusNotFound, "The requested resource does not exist.")
}

func (a *API) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	allowed := a.allowedMethods(r)
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	httpapi.WriteError(w, r, http.StatusMethodNotAllowed,
		fmt.Sprintf("The method %s is not allowed on this resource; use %s.", r.Method, strings.Join(allowed, " or ")))
}

// allowedMethods lists the methods some route accepts for r's path.
func (a *API) allowedMethods(r *http.Request) []string {
	var out []string
	for _, rt := range routes {
		if slices.Contains(out, rt.method) {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = rt.method
		var m mux.RouteMatch
		if a.router.Match(probe, &m) && m.MatchErr == nil {
			out = append(out, rt.method)
		}
	}
	slices.Sort(out)
	return out
}

func (a *API) tooLarge(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteError(w, r, http.StatusRequestEntityTooLarge,
		fmt.Sprintf("The request body exceeds the limit of %d bytes.", a.opts.MaxBodyBytes))
}

// notImplemented answers 501 for an operation that has no handler yet.
func (a *API) notImplemented(rt route) http.HandlerFunc {
	msg := fmt.Sprintf("%s %s is not implemented yet in this fnmgr build.", rt.method, template(rt.path))
	return func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteError(w, r, http.StatusNotImplemented, msg)
	}
}

// pathVar returns the decoded value of a path variable. The router matches
// encoded paths, so values arrive percent-encoded ("pkg%2Fname").
func pathVar(r *http.Request, name string) (string, error) {
	v, ok := mux.Vars(r)[name]
	if !ok {
		return "", nil
	}
	d, err := url.PathUnescape(v)
	if err != nil {
		return "", fmt.Errorf("the path segment {%s} is not valid percent-encoding", name)
	}
	return d, nil
}
