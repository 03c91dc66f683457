package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/fnmgr/fnmgr/couch"
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
	"github.com/fnmgr/fnmgr/plugin/gateway"
	"github.com/fnmgr/fnmgr/plugin/invokers"
	"github.com/fnmgr/fnmgr/plugin/leader"
	fnlifecycle "github.com/fnmgr/fnmgr/plugin/lifecycle"
	"github.com/fnmgr/fnmgr/plugin/openwhisk"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/routes"
	"github.com/fnmgr/fnmgr/plugin/storage"
	"github.com/fnmgr/fnmgr/plugin/subjects"
	"github.com/fnmgr/fnmgr/plugin/versions"
)

// domain is fnmgr's own machinery: the Meta Registry, the Storage Handler,
// the version and lifecycle controllers, the optimizer, the gateway's
// routing table, and the change-feed followers and Kafka listeners that
// keep them current.
type domain struct {
	registry  *registry.Store
	versions  *versions.Controller
	lifecycle *fnlifecycle.Controller
	optimizer *optimizer.Service
	functions *admin.Functions
	router    *routes.Router
	table     *routes.Table
	analyzer  *analyzer.Analyzer
	tracker   *invokers.Tracker
	// invokersOf tells the optimizer which invoker ran a probe.
	invokersOf *OptimizerInvokers
	keys       *subjects.Source
	dep        *deployment.Info
	actions    *openwhisk.Actions
	store      storage.Store

	// warnings say what fnmgr runs without (no pings, no events).
	warnings func(ctx context.Context) []string

	whisks, regFeed *feed.Follower
	health, events  *consumer.Group
}

// buildClients makes the two CouchDB clients (lazily: CouchDB may come up
// later): one for reads, database creation and the lease, and one whose
// every write asks the lease's fencing check first.
func (a *App) buildClients() error {
	cfg := a.opts.Config
	var err error
	ctx := context.Background() // lazy clients contact nothing
	a.client, err = couch.NewClient(ctx, cfg.CouchURL.String(), couch.ClientOptions{Lazy: true, Logger: a.opts.Logger})
	if err != nil {
		return fmt.Errorf("app: couchdb client: %w", err)
	}
	a.lc.onStop("couchdb client", func(context.Context) error { return a.client.Close() })
	a.wclient, err = couch.NewClient(ctx, cfg.CouchURL.String(), couch.ClientOptions{Lazy: true, Logger: a.opts.Logger,
		WriteGate: func(*http.Request) error { return a.elector.Check() }})
	if err != nil {
		return fmt.Errorf("app: couchdb client: %w", err)
	}
	a.lc.onStop("fenced couchdb client", func(context.Context) error { return a.wclient.Close() })
	a.subjects, err = subjects.New(a.client.DB(cfg.SubjectsDB()), subjects.Options{TTL: keyCacheTTL(cfg.KeyCacheTTL),
		Logger: a.opts.Logger, Registerer: a.reg})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	a.auth = a.opts.Authenticator
	if a.auth == nil {
		a.auth = admin.NewSubjectsAuthenticator(a.subjects)
	}
	return nil
}

// buildElector makes the leader election over the lease document in the
// registry database.
func (a *App) buildElector() error {
	cfg := a.opts.Config
	e, err := leader.New(leader.Options{Store: leader.CouchStore{DB: a.client.DB(cfg.RegistryDB())},
		ID: cfg.ReplicaID, Admin: cfg.AdminURL(cfg.AdminAddr), TTL: cfg.LeaseTTL, Renew: cfg.LeaseRenew, Skew: cfg.LeaseSkew,
		Logger: a.opts.Logger, Registerer: a.reg})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	a.elector = e
	return nil
}

// buildDomain makes the domain's components; nothing runs yet.
func (a *App) buildDomain() error {
	d := &domain{}
	a.d = d
	for _, build := range []func(*domain) error{a.buildStores, a.buildControllers, a.buildOptimizer, a.buildFeeds, a.buildListeners} {
		if err := build(d); err != nil {
			return err
		}
	}
	d.functions = &admin.Functions{Registry: d.registry, Versions: d.versions, Lifecycle: d.lifecycle, Deployment: d.dep, Optimizer: d.optimizer}
	return nil
}

// buildStores makes the Meta Registry, the Storage Handler and the
// adapter over OpenWhisk's actions, all writing through the fence.
func (a *App) buildStores(d *domain) error {
	cfg := a.opts.Config
	d.registry = registry.New(a.wclient.DB(cfg.RegistryDB()))
	// Only the leader writes the registry: a follower reads every function
	// from CouchDB, never from a cache the leader's writes made stale.
	d.registry.CacheWhile(a.elector.LeadingEpoch)
	if cfg.Storage == config.StorageBucket {
		b, err := storage.NewBucket(cfg.StorageDir)
		if err != nil {
			return fmt.Errorf("app: %w", err)
		}
		d.store = fencedStore{Store: b, check: a.elector.Check}
	} else {
		d.store = storage.NewCouch(a.wclient.DB(cfg.ArtifactsDB()))
	}
	prod := producer.NewLazy(producer.Options{Brokers: cfg.KafkaBrokers, InstanceID: "fnmgr-" + cfg.ReplicaID, TopicPrefix: cfg.KafkaTopicPrefix})
	a.lc.onStop("kafka producer", func(context.Context) error { return prod.Close() })
	keys := a.subjects
	d.keys = keys
	// Code kept outside CouchDB (an S3 or Azure Blob attachment store) is
	// read through the controller's API as the action's namespace.
	d.actions = openwhisk.NewActions(whiskdb.NewWith(a.wclient.DB(cfg.WhisksDB()), whiskdb.Options{Batched: true,
		External: &openwhisk.ControllerCode{APIHost: cfg.Controllers[0].String(), Keys: keys}}),
		fencedInvalidator{inv: prod, check: a.elector.Check})
	return nil
}

// buildControllers makes the version and lifecycle controllers, the
// deployment's limits, and the gateway's routing table.
func (a *App) buildControllers(d *domain) error {
	cfg := a.opts.Config
	// The optimizer hears of new functions (its policy); state annotations
	// wait until the whisks feed has caught up, so that adopting a backlog
	// of actions comes first.
	onNew := func(ctx context.Context, ns, name string, ann entity.KeyValues) {
		if _, err := d.optimizer.OnNewFunction(ctx, ns, name, ann); err != nil {
			a.log.Warn("optimize a new function", "function", ns+"/"+name, "err", err)
		}
	}
	caughtUp := func() bool { return d.whisks.CaughtUp() }
	ctl := cfg.Controllers[0].String()
	d.tracker = invokers.New(10*time.Second, 0)
	d.dep = deployment.New(deployment.Options{ControllerURL: ctl, Memory: d.tracker, MaxMemoryMB: cfg.MaxMemoryMB, MaxGPUNum: cfg.MaxGPUNum,
		Keys: d.keys, StubKind: cfg.StubKind})
	d.versions = versions.New(versions.Options{Registry: d.registry, Storage: d.store, Actions: d.actions, Retention: cfg.Retention,
		RetireGrace: cfg.RetireGrace, Logger: a.opts.Logger, Metrics: versions.NewMetrics(a.reg), OnNew: onNew, AnnotateWhen: caughtUp, StubKinds: d.dep, Limits: d.dep})
	a.lc.onStop("version controller", func(context.Context) error { d.versions.Close(); return nil })
	inv := &openwhisk.Invoker{APIHost: ctl, Keys: d.keys, HTTP: a.fencedHTTP(70 * time.Second)}
	d.lifecycle = fnlifecycle.New(fnlifecycle.Options{Registry: d.registry, Versions: d.versions, Invoker: inv, Rules: d.dep,
		DefaultGrace: cfg.RetireGrace, Logger: a.opts.Logger, Registerer: a.reg})
	d.table = routes.New()
	var err error
	d.router, err = routes.NewRouter(d.table, func(ctx context.Context, uuid, key string) (string, []string, error) {
		id, err := a.auth.Authenticate(ctx, uuid, key)
		if errors.Is(err, admin.ErrUnauthenticated) {
			err = fmt.Errorf("%w: %w", routes.ErrUnknownCredentials, err)
		}
		return id.Namespace, id.Namespaces, err
	}, routes.RouterOptions{FailOpen: cfg.GatewayFailOpen, Logger: a.opts.Logger, Registerer: a.reg})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	d.analyzer = analyzer.New(d.stateOf, a.reg)
	d.warnings = activityWarnings(cfg, d.tracker.LastPing, d.analyzer.LastEvent, time.Now)
	return nil
}

func (d *domain) stateOf(ns, name string) (registry.State, bool) {
	e, ok := d.table.Lookup(ns, name)
	return e.State, ok
}

// buildOptimizer makes the pre-optimizer; its probes call the controller
// through the fence.
func (a *App) buildOptimizer(d *domain) error {
	cfg := a.opts.Config
	// Which invoker ran a probe, from the user events: its node's GPU is
	// the one sampled.
	d.invokersOf = NewOptimizerInvokers(4096, 3*time.Second)
	opt, err := optimizer.New(optimizer.Options{Invokers: d.invokersOf, Functions: OptimizerFunctions{Registry: d.registry},
		Store: optimizer.CouchStore{DB: a.wclient.DB(cfg.OptimizationsDB())}, Actions: d.actions,
		Whisks: probe.DBLister{DB: a.client.DB(cfg.WhisksDB())},
		Invoker: probe.NewClient(probe.ClientOptions{APIHost: cfg.Controllers[0].String(), Keys: d.keys,
			HTTPClient: a.fencedHTTP(75 * time.Second)}),
		Deployment: OptimizerDeployment{Info: d.dep}, Applier: OptimizerApplier{Registry: d.registry, Versions: d.versions, Deployment: d.dep},
		Traffic: OptimizerTraffic{Analyzer: d.analyzer}, GPU: gpuSampler(a.log, cfg.DCGMHostengines),
		StateOf: func(ns, name string) (optimizer.State, bool) {
			st, ok := d.stateOf(ns, name)
			return optimizer.State(st), ok
		},
		ProbeMargin: cfg.ProbeMargin, ThrottleShare: cfg.ThrottleShare,
		Policy: optimizer.Policy(cfg.OptimizePolicy), Logger: a.opts.Logger, Registerer: a.reg})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	d.optimizer = opt
	a.lc.onStop("optimizer", opt.Stop)
	return nil
}

// buildFeeds makes the change-feed followers: OpenWhisk's whisks database
// into the version controller (the leader's), and fnmgr's registry into
// the routing table (every replica's).
func (a *App) buildFeeds(d *domain) error {
	cfg := a.opts.Config
	var err error
	d.whisks, err = feed.New(feed.Options{URL: dbURL(cfg.CouchURL, cfg.WhisksDB()), Handler: d.versions.Observe,
		Checkpoints: d.registry.Checkpoint("whisks"), Logger: a.opts.Logger, Metrics: feed.NewMetrics(a.reg), Workers: 64})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	d.regFeed, err = feed.New(feed.Options{URL: dbURL(cfg.CouchURL, cfg.RegistryDB()), Handler: d.table.Observe,
		Checkpoints: &routes.MemoryCheckpoints{}, Logger: a.opts.Logger, CheckpointEvery: time.Hour})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	return nil
}

// buildListeners makes the leader's Kafka consumers: invoker health (for
// MAX_MEMORY) and activation events (the optimizer's passive measurements).
func (a *App) buildListeners(d *domain) error {
	cfg := a.opts.Config
	km := consumer.NewMetrics(a.reg)
	host, _ := os.Hostname()
	var err error
	// A new health group reads the pings still on the topic, so MAX_MEMORY
	// is known at once rather than after the next ping. Group ids take the
	// topic's prefix, as OpenWhisk's own do (its health group is
	// prefix+"health"+instance, ShardingContainerPoolBalancer.scala; its
	// cache invalidation group prefix+"cacheInvalidation"+instance,
	// RemoteCacheInvalidation.scala): fnmgrs beside two OpenWhisks sharing
	// one Kafka under different prefixes do not split each other's groups.
	d.health, err = consumer.New(consumer.Options{Brokers: cfg.KafkaBrokers, GroupID: cfg.KafkaTopicPrefix + "fnmgr-health", InstanceID: "fnmgr-health-" + host, Oldest: true,
		Topics: []string{cfg.Topic(message.TopicHealth)}, Handler: d.tracker.Handle, Logger: a.opts.Logger, Metrics: km})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	d.events, err = consumer.New(consumer.Options{Brokers: cfg.KafkaBrokers, GroupID: cfg.UserEventsTopicPrefix + "fnmgr-events", InstanceID: "fnmgr-events-" + host,
		Topics: []string{cfg.Topic(message.TopicEvents)}, Handler: func(ctx context.Context, topic string, v []byte) error {
			_ = d.invokersOf.Handle(ctx, topic, v)
			return d.analyzer.Handle(ctx, topic, v)
		}, Logger: a.opts.Logger, Metrics: km})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	return nil
}

// buildServers makes the gateway and the admin API.
func (a *App) buildServers() error {
	cfg := a.opts.Config
	router := a.opts.Router
	if router == nil {
		router = a.d.router
	}
	var err error
	a.gw, err = gateway.New(gateway.Options{Controllers: cfg.Controllers, Router: router, Logger: a.opts.Logger,
		HTTPMetrics: a.httpM, Registerer: a.reg})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	a.api, err = admin.New(admin.Options{Logger: a.opts.Logger, Metrics: a.httpM, Gatherer: a.reg, Authenticator: a.auth,
		AdminToken: cfg.AdminToken, Ready: a.ready.reasons, Warnings: a.d.warnings, Functions: a.d.functions, Controllers: a.gw,
		Leadership: leadership{a.elector}, ReplicaID: cfg.ReplicaID})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	return nil
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

// keyCacheTTL turns --key-cache-ttl (0: read every time) into
// subjects.Options.TTL, where 0 means the default and a negative value no
// cache.
func keyCacheTTL(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
