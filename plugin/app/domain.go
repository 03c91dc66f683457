package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kivik/kivik/v4"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/feed"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/kafka/consumer"
	"github.com/fnmgr/fnmgr/kafka/message"
	"github.com/fnmgr/fnmgr/kafka/producer"
	"github.com/fnmgr/fnmgr/optimizer"
	"github.com/fnmgr/fnmgr/optimizer/gpu"
	"github.com/fnmgr/fnmgr/optimizer/probe"
	"github.com/fnmgr/fnmgr/plugin/admin"
	"github.com/fnmgr/fnmgr/plugin/analyzer"
	"github.com/fnmgr/fnmgr/plugin/config"
	"github.com/fnmgr/fnmgr/plugin/deployment"
	"github.com/fnmgr/fnmgr/plugin/invokers"
	fnlifecycle "github.com/fnmgr/fnmgr/plugin/lifecycle"
	"github.com/fnmgr/fnmgr/plugin/openwhisk"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/routes"
	"github.com/fnmgr/fnmgr/plugin/storage"
	"github.com/fnmgr/fnmgr/plugin/versions"
)

// Readiness conditions of the domain.
const (
	condChanges  = "changes"
	condRoutes   = "routes"
	condKafka    = "kafka"
	condRecovery = "recovery"
)

// domain is fnmgr's own machinery: the Meta Registry, the Storage Handler,
// the version and lifecycle controllers, the gateway's routing table, and
// the change-feed followers and Kafka listeners that keep them current.
type domain struct {
	functions *admin.Functions
	router    *routes.Router
	table     *routes.Table
	analyzer  *analyzer.Analyzer
	tracker   *invokers.Tracker
	// warnings say what fnmgr runs without (no pings, no events).
	warnings func(ctx context.Context) []string
}

// startDomain creates the domain's components, registers their teardown,
// and starts its background work.
func (a *App) startDomain(ctx context.Context, client *kivik.Client, auth admin.Authenticator) (*domain, error) {
	cfg := a.opts.Config
	// fnmgr's databases are created now if CouchDB answers; if it does not
	// (yet), the change feeds wait for them in the background (couchdb.go).
	dbs := []string{cfg.RegistryDB(), cfg.OptimizationsDB()}
	if cfg.Storage == config.StorageCouch {
		dbs = append(dbs, cfg.ArtifactsDB())
	}
	couchUnavailable := newCouchUnavailable(a.reg)
	couchErr := a.createDatabases(ctx, client, dbs)
	if couchErr != nil && !errors.Is(couchErr, errCouchUnavailable) {
		return nil, fmt.Errorf("app: databases: %w", couchErr)
	}
	reg := registry.New(client.DB(cfg.RegistryDB()))
	var store storage.Store
	if cfg.Storage == config.StorageBucket {
		b, err := storage.NewBucket(cfg.StorageDir)
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		store = b
	} else {
		store = storage.NewCouch(client.DB(cfg.ArtifactsDB()))
	}
	prod := producer.NewLazy(producer.Options{Brokers: cfg.KafkaBrokers, InstanceID: "fnmgr", TopicPrefix: cfg.KafkaTopicPrefix})
	a.lc.onStop("kafka producer", func(context.Context) error { return prod.Close() })
	keys, err := openwhisk.NewKeys(client.DB(cfg.SubjectsDB()), openwhisk.KeysOptions{TTL: keyCacheTTL(cfg.KeyCacheTTL),
		Logger: a.opts.Logger, Registerer: a.reg})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	// Code kept outside CouchDB (an S3 or Azure Blob attachment store) is
	// read through the controller's API as the action's namespace.
	actions := openwhisk.NewActions(whiskdb.NewWith(client.DB(cfg.WhisksDB()), whiskdb.Options{Batched: true,
		External: &openwhisk.ControllerCode{APIHost: cfg.Controllers[0].String(), Keys: keys}}), prod)
	// The optimizer needs the version controller (to apply a result) and
	// the version controller tells it of new functions (its policy).
	var opt *optimizer.Service
	onNew := func(ctx context.Context, ns, name string, ann entity.KeyValues) {
		if opt == nil {
			return
		}
		if _, err := opt.OnNewFunction(ctx, ns, name, ann); err != nil {
			a.log.Warn("optimize a new function", "function", ns+"/"+name, "err", err)
		}
	}
	// The whisks follower, made below; state annotations wait until it has
	// caught up, so that adopting a backlog of actions comes first.
	var whisksFeed atomic.Pointer[feed.Follower]
	caughtUp := func() bool { f := whisksFeed.Load(); return f != nil && f.CaughtUp() }
	tracker := invokers.New(10*time.Second, 0)
	dep := deployment.New(deployment.Options{ControllerURL: cfg.Controllers[0].String(), Memory: tracker,
		MaxMemoryMB: cfg.MaxMemoryMB, MaxGPUNum: cfg.MaxGPUNum, Keys: keys, StubKind: cfg.StubKind})
	if err := checkStubKind(ctx, dep, cfg.StubKind, a.log); err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	ver := versions.New(versions.Options{Registry: reg, Storage: store, Actions: actions, Retention: cfg.Retention,
		RetireGrace: cfg.RetireGrace, Logger: a.opts.Logger, Metrics: versions.NewMetrics(a.reg), OnNew: onNew,
		AnnotateWhen: caughtUp, StubKinds: dep, Limits: dep})
	a.lc.onStop("version controller", func(context.Context) error { ver.Close(); return nil })
	inv := &openwhisk.Invoker{APIHost: cfg.Controllers[0].String(), Keys: keys}
	lc := fnlifecycle.New(fnlifecycle.Options{Registry: reg, Versions: ver, Invoker: inv, Rules: dep, DefaultGrace: cfg.RetireGrace,
		Logger: a.opts.Logger, Registerer: a.reg})
	table := routes.New()
	router, err := routes.NewRouter(table, func(ctx context.Context, uuid, key string) (string, []string, error) {
		id, err := auth.Authenticate(ctx, uuid, key)
		if errors.Is(err, admin.ErrUnauthenticated) {
			err = fmt.Errorf("%w: %w", routes.ErrUnknownCredentials, err)
		}
		return id.Namespace, id.Namespaces, err
	}, routes.RouterOptions{FailOpen: cfg.GatewayFailOpen, Logger: a.opts.Logger, Registerer: a.reg})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	an := analyzer.New(func(ns, name string) (registry.State, bool) {
		e, ok := table.Lookup(ns, name)
		return e.State, ok
	}, a.reg)
	// Which invoker ran a probe, from the user events: its node's GPU is
	// the one sampled.
	invokersOf := NewOptimizerInvokers(4096, 3*time.Second)
	opt, err = optimizer.New(optimizer.Options{Invokers: invokersOf, Functions: OptimizerFunctions{Registry: reg},
		Store: optimizer.CouchStore{DB: client.DB(cfg.OptimizationsDB())}, Actions: actions,
		Whisks:     probe.DBLister{DB: client.DB(cfg.WhisksDB())},
		Invoker:    probe.NewClient(probe.ClientOptions{APIHost: cfg.Controllers[0].String(), Keys: keys}),
		Deployment: OptimizerDeployment{Info: dep}, Applier: OptimizerApplier{Registry: reg, Versions: ver, Deployment: dep},
		Traffic: OptimizerTraffic{Analyzer: an}, GPU: gpuSampler(a.log, cfg.DCGMHostengines),
		StateOf: func(ns, name string) (optimizer.State, bool) {
			e, ok := table.Lookup(ns, name)
			return optimizer.State(e.State), ok
		},
		ProbeMargin: cfg.ProbeMargin, ThrottleShare: cfg.ThrottleShare,
		Policy: optimizer.Policy(cfg.OptimizePolicy), Logger: a.opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	a.lc.onStop("optimizer", opt.Stop)
	d := &domain{
		functions: &admin.Functions{Registry: reg, Versions: ver, Lifecycle: lc, Deployment: dep, Optimizer: opt},
		router:    router, table: table, analyzer: an, tracker: tracker,
		warnings: activityWarnings(cfg, tracker.LastPing, an.LastEvent, time.Now),
	}

	whisks, err := feed.New(feed.Options{URL: dbURL(cfg.CouchURL, cfg.WhisksDB()), Handler: ver.Observe,
		Checkpoints: reg.Checkpoint("whisks"), Logger: a.opts.Logger, Metrics: feed.NewMetrics(a.reg), Workers: 64})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	whisksFeed.Store(whisks)
	regFeed, err := feed.New(feed.Options{URL: dbURL(cfg.CouchURL, cfg.RegistryDB()), Handler: table.Observe,
		Checkpoints: &routes.MemoryCheckpoints{}, Logger: a.opts.Logger, CheckpointEvery: time.Hour})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	km := consumer.NewMetrics(a.reg)
	host, _ := os.Hostname()
	// A new health group reads the pings still on the topic, so MAX_MEMORY
	// is known at once rather than after the next ping.
	// Group ids take the topic's prefix, as OpenWhisk's own do (its health
	// group is prefix+"health"+instance, ShardingContainerPoolBalancer.scala;
	// its cache invalidation group prefix+"cacheInvalidation"+instance,
	// RemoteCacheInvalidation.scala): fnmgrs beside two OpenWhisks sharing
	// one Kafka under different prefixes do not split each other's groups.
	// Without a prefix they are unchanged.
	health, err := consumer.New(consumer.Options{Brokers: cfg.KafkaBrokers, GroupID: cfg.KafkaTopicPrefix + "fnmgr-health", InstanceID: "fnmgr-health-" + host, Oldest: true,
		Topics: []string{cfg.Topic(message.TopicHealth)}, Handler: tracker.Handle, Logger: a.opts.Logger, Metrics: km})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	events, err := consumer.New(consumer.Options{Brokers: cfg.KafkaBrokers, GroupID: cfg.UserEventsTopicPrefix + "fnmgr-events", InstanceID: "fnmgr-events-" + host,
		Topics: []string{cfg.Topic(message.TopicEvents)}, Handler: func(ctx context.Context, topic string, v []byte) error {
			_ = invokersOf.Handle(ctx, topic, v)
			return an.Handle(ctx, topic, v)
		}, Logger: a.opts.Logger, Metrics: km})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(bg); err != nil && bg.Err() == nil {
				a.report(fmt.Errorf("app: %s: %w", name, err))
			}
		}()
	}
	a.lc.onStop("background work", func(ctx context.Context) error {
		cancel()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("background work did not stop: %w", ctx.Err())
		}
	})
	a.ready.set(condChanges, "catching up with the whisks change feed")
	a.ready.set(condRoutes, "loading the routing table")
	a.ready.set(condKafka, "joining the Kafka consumer groups")
	a.ready.set(condRecovery, "finishing transitions a restart cut short")
	feeds := func() {
		run("whisks change feed", whisks.Run)
		run("registry change feed", regFeed.Run)
	}
	if couchErr == nil {
		feeds()
	} else {
		a.ready.set(condCouchDB, "waiting for CouchDB")
		run("databases", func(ctx context.Context) error {
			if err := a.waitForDatabases(ctx, client, dbs, couchErr, couchUnavailable); err != nil {
				return err
			}
			a.ready.set(condCouchDB, "")
			feeds()
			return nil
		})
	}
	run("health listener", health.Run)
	run("events listener", events.Run)
	run("readiness", func(ctx context.Context) error {
		recovered := false
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			a.ready.set(condChanges, pending(whisks.CaughtUp(), "catching up with the whisks change feed"))
			a.ready.set(condRoutes, pending(regFeed.CaughtUp(), "loading the routing table"))
			a.ready.set(condKafka, pending(health.Joined() && events.Joined(), "joining the Kafka consumer groups"))
			if !recovered && whisks.CaughtUp() {
				// Transitions a crash cut short are finished once the
				// registry has seen every change.
				if err := lc.Recover(ctx); err != nil {
					a.log.Warn("recovering interrupted transitions", "err", err)
				} else {
					recovered = true
					a.ready.set(condRecovery, "")
					// Probe copies a crash left behind go before any new run.
					if err := opt.Cleanup(ctx); err != nil {
						a.log.Warn("delete probe copies left by an earlier run", "err", err)
					}
					run("purge", func(ctx context.Context) error { return lc.Run(ctx, time.Minute) })
				}
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	})
	return d, nil
}

// activityWindow is how recent a health ping or an activation event must be
// for /readyz not to warn.
const activityWindow = time.Minute

// activityWarnings says what fnmgr runs without when no health ping or no
// activation event arrived within activityWindow, and which OpenWhisk
// setting turns them on. fnmgr is ready without them: memory settings are
// then bounded by the controller's limits (plugin/deployment).
func activityWarnings(cfg config.Options, lastPing, lastEvent func() time.Time, now func() time.Time) func(context.Context) []string {
	return func(context.Context) []string {
		var out []string
		t := now()
		if p := lastPing(); t.Sub(p) > activityWindow {
			w := fmt.Sprintf("no invoker health ping on %s in the last minute: MAX_MEMORY is unknown, so memory settings are bounded by the controller's limits alone, and invokers are not listed; "+
				"OpenWhisk's scheduler mode (FPCPoolBalancer) sends no pings: set --max-memory (FNMGR_MAX_MEMORY) to the invokers' user memory", cfg.Topic(message.TopicHealth))
			if cfg.MaxMemoryMB > 0 {
				w = fmt.Sprintf("no invoker health ping on %s in the last minute: MAX_MEMORY is the configured %d MB (--max-memory); invokers are not listed", cfg.Topic(message.TopicHealth), cfg.MaxMemoryMB)
			}
			out = append(out, w)
		}
		if e := lastEvent(); t.Sub(e) > activityWindow {
			out = append(out, fmt.Sprintf("no activation event on %s in the last minute: no activity statistics, no passive optimization, no alert when code runs while BLOCKED; "+
				"turn on OpenWhisk's user events (whisk.userEvents.enabled; Helm: metrics.userMetricsEnabled=true; ansible: user_events_enabled=true), or there was no activation", cfg.Topic(message.TopicEvents)))
		}
		return out
	}
}

// checkStubKind refuses to start with a --stub-kind the controller does not
// offer. A controller that does not answer yet is no reason to stop: the
// kind is checked again each time a stub is written.
func checkStubKind(ctx context.Context, dep *deployment.Info, kind string, log *slog.Logger) error {
	if kind == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := dep.Root(ctx); err != nil {
		log.Warn("cannot check the stub kind yet: the controller does not answer", "kind", kind, "err", err)
		return nil
	}
	return dep.CheckStubKind(ctx)
}

func pending(ok bool, why string) string {
	if ok {
		return ""
	}
	return why
}

// dbURL is the URL of database db on the server at base.
func dbURL(base *url.URL, db string) string { return base.JoinPath(url.PathEscape(db)).String() }

// gpuSampler is DCGM (embedded) for the optimizer's GPU probes. It opens
// DCGM on first use; without DCGM the report says "GPU measurement
// unavailable: <reason>" and the optimizer tunes memory only.
// hostengines maps invoker nodes to their nv-hostengine (--dcgm-hostengines).
func gpuSampler(log *slog.Logger, hostengines map[string]string) gpu.Sampler {
	return gpu.NewDCGM(gpu.DCGMOptions{Logger: log, Hostengines: hostengines})
}
