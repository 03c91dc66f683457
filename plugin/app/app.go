// Package app wires fnmgr's daemon together (the seed's Initializer), in
// the manner of alertmanager's app: New builds every component from one
// validated config.Options and starts nothing; Start runs the named stages
// below, registering each teardown as it goes; Stop runs the teardowns in
// reverse under one deadline. Nothing below this package exits the
// process: failures of running components are reported on Err.
//
// Every replica runs these stages (stages.go), in order:
//
//  1. databases: create fnmgr's databases, or wait for CouchDB in the
//     background (Start never waits for CouchDB);
//  2. serve: the gateway and the admin API listen, so that /healthz
//     answering means both do;
//  3. follow: the registry's change feed keeps the gateway's routing table
//     current (on every replica, leader or not);
//  4. elect: campaign for the leader's lease (plugin/leader).
//
// The replica that wins the lease then runs the leader's stages (lead.go):
//
//  1. feed caught up: follow OpenWhisk's whisks change feed and join the
//     Kafka consumer groups, and wait until the feed has caught up;
//  2. recover: finish the transitions an earlier leader's crash cut short
//     (from their intents);
//  3. clean up: delete probe copies an earlier run left behind;
//  4. purge and serve: run the purge loop; the replica is then ready.
//
// Every write a replica makes to CouchDB, to Kafka or to a controller
// passes the lease's fencing check first (fence.go); a replica that loses
// the lease reports leader.ErrLost on Err, and `fnmgr serve` stops.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/go-kivik/kivik/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fnmgr/fnmgr/plugin/admin"
	"github.com/fnmgr/fnmgr/plugin/config"
	"github.com/fnmgr/fnmgr/plugin/gateway"
	"github.com/fnmgr/fnmgr/plugin/httpapi"
	"github.com/fnmgr/fnmgr/plugin/leader"
	"github.com/fnmgr/fnmgr/plugin/subjects"
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

	// Built by New.
	client  *kivik.Client // reads, database creation, the lease
	wclient *kivik.Client // fenced: every write asks the lease first
	auth    admin.Authenticator
	// subjects is the one source of API keys: who a key belongs to (the
	// admin API, the gateway) and a namespace's key (fnmgr's own calls).
	subjects *subjects.Source
	elector  *leader.Elector
	d        *domain
	gw       *gateway.Gateway
	api      *admin.API
	bg       background
	// couchFailed counts the tries to reach CouchDB at start that failed.
	couchFailed prometheus.Counter
	leading     atomic.Bool

	mu          sync.Mutex
	started     bool
	adminAddr   string
	gatewayAddr string
}

// New validates o, registers the metrics and builds every component; it
// starts nothing and contacts nothing.
func New(o Options) (_ *App, err error) {
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
	a := &App{opts: o, log: o.Logger.With("component", "app"), reg: o.Registry, httpM: m,
		errc: make(chan error, 8), couchBackoff: defaultCouchBackoff, couchFailed: newCouchUnavailable(o.Registry)}
	defer func() {
		if err != nil {
			_ = a.lc.stop(context.Background())
		}
	}()
	for _, build := range []func() error{a.buildClients, a.buildElector, a.buildDomain, a.buildServers} {
		if err := build(); err != nil {
			return nil, err
		}
	}
	a.ready.set(condStarted, "starting")
	return a, nil
}

// Start runs the replica's stages (see the package doc), registering each
// teardown as it goes. When a stage fails, what was started is stopped
// again (within the shutdown timeout) and the error returned.
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
	a.log.Info("starting fnmgr", "config", a.opts.Config)
	a.bg.start(ctx, &a.lc, a.report)
	couchErr, err := a.stageDatabases(ctx)
	if err != nil {
		return err
	}
	a.lc.onStop("leader lease", a.elector.Release)
	if err := a.stageChecks(ctx); err != nil {
		return err
	}
	if err := a.stageServe(ctx); err != nil {
		return err
	}
	a.afterCouchDB(couchErr, func() {
		a.stageFollow()
		a.stageElect()
	})
	a.ready.set(condStarted, "")
	a.log.Info("fnmgr started", "admin", a.adminAddr, "gateway", a.gatewayAddr, "replica", a.opts.Config.ReplicaID)
	return nil
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
// A replica that lost the leader's lease reports an error wrapping
// leader.ErrLost: it must stop (it is restarted as a follower).
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

// Leader names the replica that leads now, as this replica knows it.
func (a *App) Leader() (leader.Info, error) { return a.elector.Leader() }

// SetControllers replaces the gateway's controllers (on a configuration
// reload): calls in flight finish where they are, new calls go to the new
// set. Before Start it fails.
func (a *App) SetControllers(urls []*url.URL) error {
	a.mu.Lock()
	started := a.started && a.gatewayAddr != ""
	a.mu.Unlock()
	if !started {
		return errors.New("app: SetControllers before Start")
	}
	if err := a.gw.SetControllers(urls); err != nil {
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
