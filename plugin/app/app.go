// Package app wires fnmgr's daemon together: it creates every component
// from one validated config.Options, starts them in order and stops them in
// reverse (see lifecycle.go), in the manner of alertmanager.
//
// Start opens, in order: the CouchDB client for OpenWhisk's subjects
// database (lazily: CouchDB may come up later), the gateway server and the
// admin API server, so that /healthz answering means both listen. Nothing below this package exits the process: failures of
// running servers are reported on Err.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/plugin/admin"
	"github.com/fnmgr/fnmgr/plugin/config"
	"github.com/fnmgr/fnmgr/plugin/gateway"
	"github.com/fnmgr/fnmgr/plugin/httpapi"
)

// Readiness conditions set by the app itself.
const condStarted = "started"

// Options configures an App.
type Options struct {
	// Config is the validated configuration.
	Config config.Options
	// Logger; nothing is logged when nil.
	Logger *slog.Logger
	// Registry takes every metric and is what /metrics serves; a fresh one
	// (with the Go and process collectors) when nil. Never the global one.
	Registry *prometheus.Registry
	// Authenticator overrides the subjects-database lookup of Basic keys.
	Authenticator admin.Authenticator
	// Router decides for the gateway before proxying; pass-through when nil.
	Router gateway.Router
}

// App is the fnmgr daemon.
type App struct {
	opts  Options
	log   *slog.Logger
	reg   *prometheus.Registry
	httpM *httpapi.Metrics
	lc    lifecycle
	ready readiness
	errc  chan error
	// couchBackoff paces the tries to reach CouchDB at start.
	couchBackoff backoff

	mu          sync.Mutex
	started     bool
	adminAddr   string
	gatewayAddr string
	gw          *gateway.Gateway
}

// New validates o and registers the metrics; it starts nothing.
func New(o Options) (*App, error) {
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
		o.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m, err := httpapi.NewMetrics(o.Registry)
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	a := &App{
		opts:  o,
		log:   o.Logger.With("component", "app"),
		reg:   o.Registry,
		httpM: m,
		errc:  make(chan error, 8),

		couchBackoff: defaultCouchBackoff,
	}
	a.ready.set(condStarted, "starting")
	return a, nil
}

// Start creates and starts every component, registering each teardown as
// it goes. When a step fails, what was started is stopped again (within
// the shutdown timeout) and the error returned.
func (a *App) Start(ctx context.Context) (err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.started {
		return errors.New("app: Start called twice (an App starts once)")
	}
	a.started = true // even if Start fails: its metrics are registered
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.opts.Config.ShutdownTimeout)
			defer cancel()
			if uerr := a.lc.stop(sctx); uerr != nil {
				err = errors.Join(err, fmt.Errorf("app: unwind: %w", uerr))
			}
		}
	}()
	cfg := a.opts.Config
	a.log.Info("starting fnmgr", "config", cfg)

	client, err := couch.NewClient(ctx, cfg.CouchURL.String(), couch.ClientOptions{Lazy: true, Logger: a.opts.Logger})
	if err != nil {
		return fmt.Errorf("app: couchdb client: %w", err)
	}
	a.lc.onStop("couchdb client", func(context.Context) error { return client.Close() })
	auth := a.opts.Authenticator
	if auth == nil {
		auth = admin.NewSubjectsAuthenticator(client.DB(cfg.SubjectsDB()), admin.SubjectsOptions{CacheTTL: keyCacheTTL(cfg.KeyCacheTTL)})
	}
	d, err := a.startDomain(ctx, client, auth)
	if err != nil {
		return err
	}
	router := a.opts.Router
	if router == nil {
		router = d.router
	}

	gw, err := gateway.New(gateway.Options{
		Controllers: cfg.Controllers,
		Router:      router,
		Logger:      a.opts.Logger,
		HTTPMetrics: a.httpM,
		Registerer:  a.reg,
	})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	if err := gw.Start(ctx); err != nil {
		return fmt.Errorf("app: %w", err)
	}
	a.lc.onStop("gateway health checks", gw.Stop)
	a.gw = gw
	api, err := admin.New(admin.Options{
		Logger:        a.opts.Logger,
		Metrics:       a.httpM,
		Gatherer:      a.reg,
		Authenticator: auth,
		AdminToken:    cfg.AdminToken,
		Ready:         a.ready.reasons,
		Warnings:      d.warnings,
		Functions:     d.functions,
		Controllers:   gw,
	})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}

	// The admin server comes last: once /healthz answers, the gateway
	// listens too.
	if a.gatewayAddr, err = a.serve("gateway", cfg.GatewayAddr, gw); err != nil {
		return err
	}
	if a.adminAddr, err = a.serve("admin", cfg.AdminAddr, api); err != nil {
		return err
	}
	a.ready.set(condStarted, "")
	a.log.Info("fnmgr started", "admin", a.adminAddr, "gateway", a.gatewayAddr)
	return nil
}

// serve listens on addr and serves h until stopped; it returns the address
// bound (the real port when addr asked for port 0).
func (a *App) serve(name, addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("app: %s server: listen on %s: %w", name, addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.With("server", name).Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.report(fmt.Errorf("app: %s server: %w", name, err))
		}
	}()
	a.lc.onStop(name+" server", func(ctx context.Context) error {
		err := srv.Shutdown(ctx)
		<-done
		return err
	})
	return ln.Addr().String(), nil
}

// report hands a running component's failure to whoever watches Err.
func (a *App) report(err error) {
	select {
	case a.errc <- err:
	default:
		a.log.Error("error dropped: nobody reads Err", "err", err)
	}
}

// Err reports failures of running components; the caller decides to stop.
func (a *App) Err() <-chan error { return a.errc }

// Ready lists why the app is not ready; empty when it is.
func (a *App) Ready(ctx context.Context) []string { return a.ready.reasons(ctx) }

// AdminAddr is the admin API's bound address, once started.
func (a *App) AdminAddr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.adminAddr
}

// GatewayAddr is the gateway's bound address, once started.
func (a *App) GatewayAddr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gatewayAddr
}

// SetControllers replaces the gateway's controllers (on a configuration
// reload): calls in flight finish where they are, new calls go to the new
// set. Before Start it fails.
func (a *App) SetControllers(urls []*url.URL) error {
	a.mu.Lock()
	gw := a.gw
	a.mu.Unlock()
	if gw == nil {
		return errors.New("app: SetControllers before Start")
	}
	if err := gw.SetControllers(urls); err != nil {
		return fmt.Errorf("app: %w", err)
	}
	return nil
}

// Stop stops every component in reverse order of start. When ctx has no
// deadline, the configured shutdown timeout applies.
func (a *App) Stop(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.opts.Config.ShutdownTimeout)
		defer cancel()
	}
	a.ready.set(condStarted, "stopping")
	a.log.Info("stopping fnmgr")
	err := a.lc.stop(ctx)
	if err != nil {
		return err
	}
	a.log.Info("fnmgr stopped")
	return nil
}

// keyCacheTTL turns --key-cache-ttl into the caches' setting, where 0
// means the default and a negative value no cache.
func keyCacheTTL(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
