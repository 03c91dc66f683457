package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fnmgr/fnmgr/plugin/httpapi"
)

// Health check defaults.
const (
	DefaultHealthInterval = time.Second
	DefaultHealthTimeout  = time.Second
)

// Options configures a Gateway.
type Options struct {
	// Controllers are the controllers' base URLs; at least one.
	Controllers []*url.URL
	// Router decides before proxying; PassThrough when nil.
	Router Router
	// Logger gets one debug line per request, the proxy's errors and
	// every change of a controller's health.
	Logger *slog.Logger
	// HTTPMetrics counts and times requests; optional.
	HTTPMetrics *httpapi.Metrics
	// Registerer takes the gateway's upstream metrics. Required.
	Registerer prometheus.Registerer
	// Transport reaches the controllers; when nil, a transport like
	// http.DefaultTransport without automatic compression (so bodies and
	// Content-Encoding pass unchanged) that counts the bytes it writes.
	// With another Transport, a failed invocation is sent again only when
	// no connection was made.
	Transport http.RoundTripper
	// HealthInterval is the period of the active health checks (GET / on
	// every controller) once Start has run; DefaultHealthInterval when
	// zero, none when negative (then an ejected controller stays out until
	// Upstream.SetHealthy(true)).
	HealthInterval time.Duration
	// HealthTimeout bounds one health check; DefaultHealthTimeout when
	// zero.
	HealthTimeout time.Duration
	// MaxReplayBody is the largest request body kept to be sent again on
	// another controller; DefaultMaxReplayBody when zero.
	MaxReplayBody int64
}

// Gateway proxies the OpenWhisk API to the controllers. It is safe for
// concurrent use.
type Gateway struct {
	opts    Options
	log     *slog.Logger
	router  Router
	metrics *metrics
	proxy   *httputil.ReverseProxy
	handler http.Handler
	tr      http.RoundTripper

	// upstreams is the current set: every request loads it; SetControllers
	// builds a new set aside and swaps it in, serialized by setMu.
	upstreams atomic.Pointer[upstreamSet]
	setMu     sync.Mutex

	health *checker
}

// New builds a Gateway. Its health checks start with Start.
func New(o Options) (*Gateway, error) {
	if len(o.Controllers) == 0 {
		return nil, ErrNoController
	}
	if o.Registerer == nil {
		return nil, errors.New("gateway: Options.Registerer is required")
	}
	if o.Router == nil {
		o.Router = PassThrough
	}
	if o.HealthInterval == 0 {
		o.HealthInterval = DefaultHealthInterval
	}
	if o.HealthTimeout <= 0 {
		o.HealthTimeout = DefaultHealthTimeout
	}
	if o.MaxReplayBody <= 0 {
		o.MaxReplayBody = DefaultMaxReplayBody
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	tr := o.Transport
	if tr == nil {
		tr = defaultTransport()
	}
	g := &Gateway{opts: o, log: log.With("component", "gateway"), router: o.Router, metrics: m, tr: tr}
	if err := g.SetControllers(o.Controllers); err != nil {
		return nil, err
	}
	g.health = newChecker(g, o.HealthInterval, o.HealthTimeout)
	g.proxy = &httputil.ReverseProxy{
		Rewrite:   g.rewrite,
		Transport: balancer{g: g, next: tr},
		// 0: a response of known length is written once; one of unknown
		// length (chunked, streaming) or an event stream is flushed after
		// every write (httputil.ReverseProxy decides per response).
		FlushInterval:  0,
		BufferPool:     newBufferPool(),
		ErrorHandler:   g.proxyError,
		ModifyResponse: dropUpstreamRequestID,
		ErrorLog:       slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
	g.handler = httpapi.Observe(httpapi.ObserveOptions{
		Server:  "gateway",
		Logger:  g.log,
		Level:   slog.LevelDebug, // the hot path: per-request lines only when asked
		Metrics: o.HTTPMetrics,
	}, http.HandlerFunc(g.serve))
	return g, nil
}

// Start starts the active health checks (unless Options.HealthInterval is
// negative). They run until Stop.
func (g *Gateway) Start(ctx context.Context) error { return g.health.start(ctx) }

// Stop ends the health checks and closes idle connections to the
// controllers. Requests in flight are the HTTP server's to drain.
func (g *Gateway) Stop(ctx context.Context) error {
	err := g.health.stop(ctx)
	if ci, ok := g.tr.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
	return err
}

// ServeHTTP proxies one request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.handler.ServeHTTP(w, r) }

// routeLabel is the route template of a proxied path, for logs and
// metrics; "" for paths the gateway does not serve.
func routeLabel(path string) string {
	switch {
	case path == "/":
		return "/"
	case strings.HasPrefix(path, "/api/v1/web/"):
		return "/api/v1/web/..."
	case path == "/api/v1" || strings.HasPrefix(path, "/api/v1/"):
		return "/api/v1/..."
	case path == "/api" || strings.HasPrefix(path, "/api/"):
		return "/api/..."
	}
	return ""
}

// msgNoController answers when no controller is healthy.
const msgNoController = "No OpenWhisk controller is available: every controller failed its health check or refused the connection; try again shortly."

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	route := routeLabel(r.URL.Path)
	if route == "" {
		httpapi.WriteError(w, r, http.StatusNotFound, "The requested resource does not exist.")
		return
	}
	httpapi.SetRoute(r, route)
	d := g.router.Route(r)
	if d.Status != 0 {
		if d.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(d.RetryAfter))
		}
		httpapi.WriteError(w, r, d.Status, d.Message)
		return
	}
	c := &call{path: r.URL.Path, rawPath: r.URL.RawPath, idempotent: idempotent(r)}
	if d.Path != "" {
		p, err := url.PathUnescape(d.Path)
		if err != nil || !strings.HasPrefix(p, "/") {
			g.log.ErrorContext(r.Context(), "router returned an invalid path", "request_id", httpapi.RequestID(r.Context()))
			httpapi.WriteError(w, r, http.StatusInternalServerError, "The gateway could not route the request.")
			return
		}
		c.path, c.rawPath = p, d.Path
	}
	if c.upstream = g.upstreams.Load().pick(nil); c.upstream == nil {
		httpapi.WriteError(w, r, http.StatusServiceUnavailable, msgNoController)
		return
	}
	var err error
	if c.body, c.replayable, err = replayBody(r, g.opts.MaxReplayBody); err != nil {
		if r.Context().Err() == nil {
			httpapi.WriteError(w, r, http.StatusBadRequest, "The request body could not be read.")
		}
		return
	}
	if !c.replayable {
		c.streamed = &trackedBody{ReadCloser: r.Body}
		r.Body = c.streamed
	}
	c.upstream.inFlight.Add(1)
	defer func() { c.upstream.inFlight.Add(-1) }()
	g.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callKey{}, c)))
}

func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	c := callFrom(pr.In.Context())
	u := c.upstream.target(c.path, c.rawPath, pr.Out.URL.RawQuery)
	pr.Out.URL, pr.Out.Host = &u, ""
	pr.SetXForwarded()
	// The controller uses X-Request-ID as its transaction id, so its errors
	// carry the same code as ours.
	pr.Out.Header.Set(httpapi.RequestIDHeader, httpapi.RequestID(pr.In.Context()))
}

// dropUpstreamRequestID removes the controller's X-Request-ID echo: the
// response already carries the request id (the same value).
func dropUpstreamRequestID(resp *http.Response) error {
	resp.Header.Del(httpapi.RequestIDHeader)
	return nil
}

func (g *Gateway) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client went away; nobody reads the answer
	}
	name := ""
	if c := callFrom(r.Context()); c != nil {
		name = c.upstream.Name
	}
	g.log.WarnContext(r.Context(), "controller did not answer", "controller", name, "err", err,
		"request_id", httpapi.RequestID(r.Context()))
	var ns notSentError
	if errors.As(err, &ns) {
		httpapi.WriteError(w, r, http.StatusServiceUnavailable, msgNoController)
		return
	}
	httpapi.WriteError(w, r, http.StatusBadGateway, "The controller did not answer; try again shortly.")
}

// bufferPool lends the proxy its 32 KiB copy buffers, which it would
// otherwise allocate for every response.
type bufferPool struct{ p *sync.Pool }

func newBufferPool() bufferPool {
	return bufferPool{p: &sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (b bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b bufferPool) Put(p []byte) { b.p.Put(&p) }
