package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	kivik "github.com/go-kivik/kivik/v4"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/kafka/message"
)

// joinTimeout bounds how long Start waits for its consumer groups.
const joinTimeout = 30 * time.Second

// stopGrace is how long Stop lets requests finish before it ends blocking
// waits (they then answer 503).
const stopGrace = 3 * time.Second

// Controller is the OpenWhisk-compatible controller. Create it with New,
// then Start and Stop it.
type Controller struct {
	opts     Options
	log      *slog.Logger
	instance string // "controller<ID>"

	couch      *kivik.Client
	store      store
	cache      *entityCache
	identities identityCache
	runtimes   runtimes
	waiters    *waiters
	inflight   *inflight
	throttles  throttles
	selfHTTP   *http.Client

	mu        sync.Mutex
	started   bool
	producer  *kgo.Client
	consumers []*consumer
	srv       *http.Server
	url       string
	runCtx    context.Context
	cancelRun context.CancelFunc
	bg        sync.WaitGroup // consumers and background work (sequences, fires)
	bgMu      sync.Mutex
	stopping  bool // no new background work once Stop waits for bg
	errc      chan error
}

// New validates o and connects to CouchDB. Nothing listens until Start.
func New(ctx context.Context, o Options) (*Controller, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	rts, err := newRuntimes(o.Runtimes)
	if err != nil {
		return nil, err
	}
	log := o.Logger.With("component", "controller", "instance", "controller"+o.ID)
	client, err := couch.NewClient(ctx, o.CouchURL, couch.ClientOptions{Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	c := &Controller{
		opts:       o,
		log:        log,
		instance:   "controller" + o.ID,
		couch:      client,
		cache:      newEntityCache(EntityCacheTTL),
		identities: identityCache{ttl: o.IdentityTTL},
		runtimes:   rts,
		waiters:    newWaiters(),
		inflight:   newInflight(),
		throttles:  newThrottles(time.Now),
		selfHTTP:   &http.Client{Timeout: 30 * time.Second},
		errc:       make(chan error, 4),
	}
	for _, name := range []string{"whisks", "subjects", "activations"} {
		ok, err := client.DBExists(ctx, o.DBPrefix+name)
		if err != nil {
			_ = client.Close()
			return nil, fmt.Errorf("controller: check database %s%s: %w", o.DBPrefix, name, err)
		}
		if !ok {
			_ = client.Close()
			return nil, fmt.Errorf("controller: database %s%s does not exist (run the seed first)", o.DBPrefix, name)
		}
	}
	wdb := client.DB(o.DBPrefix + "whisks")
	c.store = store{whisks: whiskdb.New(wdb), wdb: wdb,
		subjects: client.DB(o.DBPrefix + "subjects"), activations: client.DB(o.DBPrefix + "activations")}
	return c, nil
}

// Start joins the Kafka consumer groups, then listens and serves. It returns
// once the API accepts connections.
func (c *Controller) Start(ctx context.Context) (err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return errors.New("controller: already started")
	}
	c.runCtx, c.cancelRun = context.WithCancel(context.WithoutCancel(ctx))
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	undo = append(undo, c.cancelRun)

	// Receivers first: acks and cache invalidations.
	// Group ids as OpenWhisk's: the prefixed topic for acks
	// (LoadBalancer.scala), topic+instance for RemoteCacheInvalidation.
	acks, err := newConsumer(c.opts.Brokers, c.instance+"-acks", c.topic(message.CompletedTopic(c.opts.ID)), c.topic(message.CompletedTopic(c.opts.ID)))
	if err != nil {
		return err
	}
	undo = append(undo, acks.cl.Close)
	inval, err := newConsumer(c.opts.Brokers, c.instance+"-cache", c.topic(message.TopicCacheInvalidation)+c.instance, c.topic(message.TopicCacheInvalidation))
	if err != nil {
		return err
	}
	undo = append(undo, inval.cl.Close)
	c.consumers = []*consumer{acks, inval}
	c.bg.Add(2)
	go func() { defer c.bg.Done(); acks.run(c.runCtx, c.log, c.handleAck) }()
	go func() { defer c.bg.Done(); inval.run(c.runCtx, c.log, c.handleInvalidation) }()
	undo = append(undo, func() { c.cancelRun(); c.bg.Wait() })
	joinCtx, cancelJoin := context.WithTimeoutCause(ctx, joinTimeout, fmt.Errorf("no assignment within %s", joinTimeout))
	defer cancelJoin()
	for _, cs := range c.consumers {
		if err := cs.waitAssigned(joinCtx); err != nil {
			return err
		}
	}

	producer, err := newProducer(c.opts.Brokers, c.opts.ID)
	if err != nil {
		return err
	}
	c.producer = producer
	undo = append(undo, producer.Close)

	ln, err := net.Listen("tcp", c.opts.Addr)
	if err != nil {
		return fmt.Errorf("controller: listen on %s: %w", c.opts.Addr, err)
	}
	c.url = "http://" + ln.Addr().String()
	if c.opts.APIHost == "" {
		c.opts.APIHost = c.url
	}
	c.srv = &http.Server{
		Handler:           c,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return c.runCtx },
	}
	go func() {
		if err := c.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("http server failed", "err", err)
			select {
			case c.errc <- fmt.Errorf("controller: serve: %w", err):
			default:
			}
		}
	}()
	c.started = true
	c.log.Info("controller listening", "url", c.url, "invokers", c.opts.Invokers, "apihost", c.opts.APIHost)
	return nil
}

// URL returns the base URL the controller serves on (http://127.0.0.1:3233).
func (c *Controller) URL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.url
}

// Errors reports failures of the running controller (the HTTP server
// stopping on its own).
func (c *Controller) Errors() <-chan error { return c.errc }

// Stop shuts the HTTP server down gracefully, ends background work, leaves
// the consumer groups and closes the clients, within ctx.
func (c *Controller) Stop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	if c.started {
		// Let requests finish for a while, then end the blocking waits and
		// background work so that they answer too.
		shut := make(chan error, 1)
		go func() { shut <- c.srv.Shutdown(ctx) }()
		grace := time.NewTimer(stopGrace)
		var err error
		select {
		case err = <-shut:
			c.cancelRun()
		case <-grace.C:
			c.cancelRun()
			c.waiters.cancelAll()
			err = <-shut
		}
		grace.Stop()
		if err != nil {
			errs = append(errs, fmt.Errorf("controller: shutdown http: %w", err))
		}
		c.waiters.cancelAll()
		c.bgMu.Lock()
		c.stopping = true
		c.bgMu.Unlock()
		done := make(chan struct{})
		go func() { c.bg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("controller: background work did not end: %w", ctx.Err()))
		}
		for _, cs := range c.consumers {
			cs.cl.Close()
		}
		c.producer.Close()
		c.started = false
		c.log.Info("controller stopped")
	}
	if c.couch != nil {
		if err := c.couch.Close(); err != nil {
			errs = append(errs, fmt.Errorf("controller: close couch client: %w", err))
		}
		c.couch = nil
	}
	return errors.Join(errs...)
}

// goBackground runs fn as tracked background work bound to the controller's
// lifetime (sequences and fires outlive their requests).
func (c *Controller) goBackground(fn func(ctx context.Context)) {
	c.bgMu.Lock()
	defer c.bgMu.Unlock()
	if c.stopping {
		return
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		fn(c.runCtx)
	}()
}
