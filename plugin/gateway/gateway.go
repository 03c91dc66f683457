package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fnmgr/fnmgr/plugin/httpapi"
)

// Options configures a Gateway.
type Options struct {
	// Controllers are the controllers' base URLs; at least one.
	Controllers []*url.URL
	// Router decides before proxying; PassThrough when nil.
	Router Router
	// Logger gets one debug line per request and the proxy's errors.
	Logger *slog.Logger
	// HTTPMetrics counts and times requests; optional.
	HTTPMetrics *httpapi.Metrics
	// Registerer takes the gateway's upstream metrics. Required.
	Registerer prometheus.Registerer
	// Transport reaches the controllers; when nil, a transport like
	// http.DefaultTransport without automatic compression (so bodies and
	// Content-Encoding pass unchanged).
	Transport http.RoundTripper
}

// Gateway proxies the OpenWhisk API to the controllers. It is safe for
// concurrent use.
type Gateway struct {
	log     *slog.Logger
	router  Router
	metrics *metrics
	proxy   *httputil.ReverseProxy
	handler http.Handler

	// upstreams is the current set: every request loads it; SetControllers
	// builds a new set aside and swaps it in, serialized by setMu.
	upstreams atomic.Pointer[upstreamSet]
	setMu     sync.Mutex
}

// New builds a Gateway.
func New(o Options) (*Gateway, error) {
	if len(o.Controllers) == 0 {
		return nil, errors.New("gateway: at least one controller URL is needed")
	}
	if o.Registerer == nil {
		return nil, errors.New("gateway: Options.Registerer is required")
	}
	if o.Router == nil {
		o.Router = PassThrough
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
	g := &Gateway{log: log.With("component", "gateway"), router: o.Router, metrics: m}
	if err := g.SetControllers(o.Controllers); err != nil {
		return nil, err
	}
	g.proxy = &httputil.ReverseProxy{
		Rewrite:        g.rewrite,
		Transport:      instrumentedTransport{next: tr, m: m},
		FlushInterval:  -1, // stream: flush after every write
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

func defaultTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // controllers are reached directly
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     false,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

// ServeHTTP proxies one request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.handler.ServeHTTP(w, r) }

// SetControllers replaces the controllers. Requests already on their way
// finish on the controller they picked; a controller that stays keeps its
// health. Removed controllers' metrics are dropped.
func (g *Gateway) SetControllers(urls []*url.URL) error {
	g.setMu.Lock()
	defer g.setMu.Unlock()
	old := g.upstreams.Load()
	next, err := newUpstreamSet(urls, old)
	if err != nil {
		return err
	}
	g.upstreams.Store(next)
	if old != nil {
		for _, up := range old.list {
			if next.find(up.URL.String()) == nil {
				g.metrics.forget(up.Name)
			}
		}
	}
	return nil
}

// Upstreams returns the current controllers, for health checks to mark.
func (g *Gateway) Upstreams() []*Upstream {
	return append([]*Upstream(nil), g.upstreams.Load().list...)
}

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

type targetKey struct{}

// target is where the proxy sends one request.
type target struct {
	upstream *Upstream
	// path and rawPath replace the request's path when a Router asked.
	path, rawPath string
}

func targetFrom(ctx context.Context) (target, bool) {
	t, ok := ctx.Value(targetKey{}).(target)
	return t, ok
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	route := routeLabel(r.URL.Path)
	if route == "" {
		httpapi.WriteError(w, r, http.StatusNotFound, "The requested resource does not exist.")
		return
	}
	httpapi.SetRoute(r, route)
	d := g.router.Route(r)
	if d.Status != 0 {
		httpapi.WriteError(w, r, d.Status, d.Message)
		return
	}
	up := g.upstreams.Load().pick()
	if up == nil {
		httpapi.WriteError(w, r, http.StatusServiceUnavailable, "No controller is available; try again shortly.")
		return
	}
	t := target{upstream: up}
	if d.Path != "" {
		p, err := url.PathUnescape(d.Path)
		if err != nil || !strings.HasPrefix(p, "/") {
			g.log.ErrorContext(r.Context(), "router returned an invalid path", "request_id", httpapi.RequestID(r.Context()))
			httpapi.WriteError(w, r, http.StatusInternalServerError, "The gateway could not route the request.")
			return
		}
		t.path = strings.TrimRight(up.URL.Path, "/") + p
		t.rawPath = strings.TrimRight(up.URL.EscapedPath(), "/") + d.Path
	}
	g.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), targetKey{}, t)))
}

func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	t, _ := targetFrom(pr.In.Context())
	pr.SetURL(t.upstream.URL)
	if t.path != "" {
		pr.Out.URL.Path, pr.Out.URL.RawPath = t.path, t.rawPath
	}
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
	t, _ := targetFrom(r.Context())
	name := ""
	if t.upstream != nil {
		name = t.upstream.Name
	}
	g.log.WarnContext(r.Context(), "controller did not answer", "controller", name, "err", err,
		"request_id", httpapi.RequestID(r.Context()))
	httpapi.WriteError(w, r, http.StatusBadGateway, "The controller did not answer; try again shortly.")
}
