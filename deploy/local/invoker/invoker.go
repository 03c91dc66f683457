package invoker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-kivik/kivik/v4"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/deploy/local/actionrt"
	"github.com/fnmgr/fnmgr/deploy/local/limits"
	"github.com/fnmgr/fnmgr/kafka/message"
)

// Defaults for Options.
const (
	DefaultUserMemoryMB = 2048 // whisk.container-pool.user-memory in Ansible and Helm
	DefaultCgroupName   = "fnmgr-local"
	DefaultPingInterval = time.Second
	// closeGrace bounds the cleanup Stop does after its context ended:
	// handlers winding down, the pool killing its workers.
	closeGrace = 10 * time.Second
	// minActionMemoryMB is OpenWhisk's smallest action memory: the pool holds
	// at most UserMemoryMB/minActionMemoryMB activations at once.
	minActionMemoryMB = 128
)

// Options configure an Invoker.
type Options struct {
	// ID is the invoker's number: it consumes invoker<ID> in the consumer
	// group invoker<ID> and pings as instance ID.
	ID int
	// CouchURL is the CouchDB-protocol server (credentials in the URL);
	// DBPrefix prefixes the databases: actions are read from
	// <prefix>whisks, activations written to <prefix>activations.
	CouchURL string
	DBPrefix string
	// Brokers are the Kafka bootstrap addresses.
	Brokers []string
	// UserMemoryMB is whisk.container-pool.user-memory: the memory of all
	// running actions together, reported in pings as "<bytes> B".
	// DefaultUserMemoryMB when zero.
	UserMemoryMB int
	// UserCPUs is container-pool.user-cpus, shared by actions in proportion
	// to their memory; 0 means every CPU of the machine.
	UserCPUs float64
	// CgroupName is the parent cgroup of the action workers;
	// DefaultCgroupName when empty. Invokers on one machine need names of
	// their own: the pool sweeps its parent cgroup when it starts and
	// removes it when it closes.
	CgroupName string
	// APIHost is given to actions as __OW_API_HOST.
	APIHost string
	// PingInterval is the period of health pings; DefaultPingInterval when
	// zero.
	PingInterval time.Duration
	// UserEvents publishes an Activation event on "events" per activation
	// (whisk.user-events.enabled; the local stack turns it on).
	UserEvents bool
	// NoPings turns the health pings off, as under OpenWhisk's scheduler,
	// where invokers register in etcd instead of pinging "health".
	NoPings bool
	// TopicPrefix is whisk.kafka.topics.prefix (invokerN, completedN,
	// health); UserEventTopicPrefix is whisk.kafka.topics.user-event.prefix
	// (events).
	TopicPrefix, UserEventTopicPrefix string
	// Limits are the deployment's action limits that every action is
	// checked against before it runs (ActionLimits.checkLimits); zero
	// fields take OpenWhisk's defaults.
	Limits limits.Ranges
	// Kinds are the kinds the deployment offers (its runtimes manifest):
	// an action of another kind cannot be read, as in OpenWhisk. Nil
	// accepts every kind.
	Kinds []string
	// CPUShares gives actions cgroup CPU shares in proportion to their
	// memory and no quota, as OpenWhisk's default --cpu-shares; when false
	// each gets a CFS quota of UserCPUs × memory / UserMemoryMB
	// (container-pool.user-cpus).
	CPUShares bool
	// WorkDir holds the workers' scratch files; os.TempDir() when empty.
	WorkDir string
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
}

// Invoker runs the activations a controller sends it. Create it with New,
// then Start it; Stop releases everything New and Start acquired.
type Invoker struct {
	opts        Options
	log         *slog.Logger
	instance    message.InvokerInstance
	now         func() time.Time
	maxInflight int

	couch       *kivik.Client
	actions     *actionCache
	activations docWriter
	pool        runner
	producer    publisher
	kprod       *kafkaProducer
	consumer    *kgo.Client
	offsets     *offsetTracker

	mu            sync.Mutex
	started       bool
	stopped       bool
	cancelConsume context.CancelFunc
	cancelRuns    context.CancelFunc
	cancelPing    context.CancelFunc
	consumeDone   chan struct{}
	pingDone      chan struct{}
	handlers      sync.WaitGroup
}

// New validates o and creates the invoker's clients and its action pool (which
// detects cgroups and says once when it cannot use them). Nothing is consumed
// before Start.
func New(ctx context.Context, o Options) (_ *Invoker, err error) {
	o, err = o.withDefaults()
	if err != nil {
		return nil, err
	}
	inv := &Invoker{
		opts:        o,
		log:         o.Logger.With("component", "invoker", "invoker", o.ID),
		instance:    newInstance(o.ID, o.UserMemoryMB),
		now:         time.Now,
		maxInflight: max(o.UserMemoryMB/minActionMemoryMB, 1),
		offsets:     newOffsetTracker(),
	}
	var undo []func()
	defer func() {
		if err != nil {
			for k := len(undo) - 1; k >= 0; k-- {
				undo[k]()
			}
		}
	}()

	inv.couch, err = couch.NewClient(ctx, o.CouchURL, couch.ClientOptions{Lazy: true, Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("invoker: %w", err)
	}
	undo = append(undo, func() { _ = inv.couch.Close() })
	inv.actions = newActionCache(whiskdb.New(inv.couch.DB(o.DBPrefix + "whisks")))
	inv.activations = inv.couch.DB(o.DBPrefix + "activations")

	pool, err := actionrt.New(ctx, actionrt.Options{
		UserMemoryMB: o.UserMemoryMB, UserCPUs: o.UserCPUs, CPUShares: o.CPUShares, CgroupName: o.CgroupName,
		WorkDir: o.WorkDir, Logger: o.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("invoker: %w", err)
	}
	inv.pool = pool
	undo = append(undo, func() { _ = pool.Close(context.Background()) })

	name := o.TopicPrefix + message.InvokerTopic(o.ID)
	inv.kprod, err = newKafkaProducer(o.Brokers, name)
	if err != nil {
		return nil, err
	}
	inv.producer = inv.kprod
	undo = append(undo, func() { inv.kprod.cl.Close() })
	inv.consumer, err = newKafkaConsumer(o.Brokers, name, name)
	if err != nil {
		return nil, err
	}
	return inv, nil
}

func (o Options) withDefaults() (Options, error) {
	switch {
	case o.ID < 0:
		return o, fmt.Errorf("invoker: invalid id %d", o.ID)
	case o.CouchURL == "":
		return o, errors.New("invoker: no CouchDB URL")
	case len(o.Brokers) == 0:
		return o, errors.New("invoker: no Kafka brokers")
	case o.UserMemoryMB < 0:
		return o, fmt.Errorf("invoker: invalid user memory %d MB", o.UserMemoryMB)
	}
	if o.UserMemoryMB == 0 {
		o.UserMemoryMB = DefaultUserMemoryMB
	}
	if o.CgroupName == "" {
		o.CgroupName = DefaultCgroupName
	}
	o.Limits = o.Limits.WithDefaults()
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// Instance is the identity this invoker pings and acknowledges with.
func (i *Invoker) Instance() message.InvokerInstance { return i.instance }

// Start checks that the databases exist and the brokers answer, then starts
// the health pings and the consumption of invoker<ID>. ctx bounds the checks
// only.
func (i *Invoker) Start(ctx context.Context) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.started || i.stopped {
		return errors.New("invoker: already started or stopped")
	}
	for _, db := range []string{i.opts.DBPrefix + "whisks", i.opts.DBPrefix + "activations"} {
		ok, err := i.couch.DBExists(ctx, db)
		if err != nil {
			return fmt.Errorf("invoker: check database %s: %w", db, err)
		}
		if !ok {
			return fmt.Errorf("invoker: database %s does not exist", db)
		}
	}
	if err := i.kprod.cl.Ping(ctx); err != nil {
		return fmt.Errorf("invoker: reach Kafka brokers %v: %w", i.opts.Brokers, err)
	}
	ping, err := pingMessage(i.instance)
	if err != nil {
		return err
	}
	i.started = true

	pingCtx, cancelPing := context.WithCancel(context.Background())
	consumeCtx, cancelConsume := context.WithCancel(context.Background())
	runCtx, cancelRuns := context.WithCancel(context.Background())
	i.cancelPing, i.cancelConsume, i.cancelRuns = cancelPing, cancelConsume, cancelRuns
	i.pingDone, i.consumeDone = make(chan struct{}), make(chan struct{})
	if i.opts.NoPings {
		close(i.pingDone)
	} else {
		go i.ping(pingCtx, ping)
	}
	go i.consume(consumeCtx, runCtx)
	i.log.Info("invoker started", "topic", i.opts.TopicPrefix+message.InvokerTopic(i.opts.ID), "pings", !i.opts.NoPings,
		"userMemory", i.instance.UserMemory, "maxInflight", i.maxInflight)
	return nil
}

// Stop stops consuming, waits for the activations in flight to be stored and
// acknowledged (as long as ctx allows; past it they are aborted, left
// uncommitted, and delivered again on the next start), commits the handled
// offsets, stops pinging and closes the pool: no worker process or cgroup is
// left. Stop is safe to call more than once, and without Start.
func (i *Invoker) Stop(ctx context.Context) error {
	i.mu.Lock()
	if i.stopped {
		i.mu.Unlock()
		return nil
	}
	i.stopped = true
	started := i.started
	i.mu.Unlock()

	var errs []error
	// Cleanup that must happen even once ctx has ended.
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeGrace)
	defer cancel()
	if started {
		i.cancelConsume()
		<-i.consumeDone
		if err := i.waitHandlers(ctx); err != nil {
			i.log.Warn("stop: aborting activations in flight", "err", err)
			i.cancelRuns()
			errs = append(errs, err, i.waitHandlers(cleanup))
		}
		i.cancelRuns()
		if err := i.consumer.CommitMarkedOffsets(cleanup); err != nil {
			errs = append(errs, fmt.Errorf("invoker: commit offsets: %w", err))
		}
		i.cancelPing()
		<-i.pingDone
	}
	i.consumer.Close()
	if err := i.pool.Close(cleanup); err != nil {
		errs = append(errs, fmt.Errorf("invoker: close pool: %w", err))
	}
	if err := i.kprod.close(cleanup); err != nil {
		errs = append(errs, err)
	}
	if err := i.couch.Close(); err != nil {
		errs = append(errs, fmt.Errorf("invoker: close couch client: %w", err))
	}
	i.log.Info("invoker stopped")
	return errors.Join(errs...)
}

// waitHandlers waits for every handler goroutine to return, or for ctx.
func (i *Invoker) waitHandlers(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		i.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("invoker: wait for activations in flight: %w", ctx.Err())
	}
}
