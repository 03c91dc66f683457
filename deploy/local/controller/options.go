package controller

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/deploy/local/limits"
)

// Defaults for Options.
const (
	DefaultID          = "0"
	DefaultAddr        = "127.0.0.1:3233"
	DefaultDBPrefix    = "whisk_local_"
	DefaultIdentityTTL = 10 * time.Second
	// EntityCacheTTL is how long a cached entity lives after its last use,
	// as in OpenWhisk's MultipleReadersSingleWriterCache.
	EntityCacheTTL = 5 * time.Minute
)

// Limits are the system action limits (OpenWhisk's whisk.memory,
// whisk.time-limit, whisk.log-limit, whisk.concurrency-limit) and the
// namespace throttles reported by GET / and GET /namespaces/{ns}/limits.
// Zero fields take OpenWhisk's defaults.
type Limits struct {
	// Ranges are the system ranges (min and max) of each action limit,
	// which a namespace's limits document may move.
	limits.Ranges
	// The standard limits an action gets when its PUT sends none.
	StdMemoryMB, StdTimeoutMS, StdLogsMB, StdConcurrency int
	// SequenceMaxLength bounds the atomic actions of a sequence (50).
	SequenceMaxLength int
	// MaxBlockingWait bounds a blocking invoke (60 s).
	MaxBlockingWait time.Duration
	// MaxPayloadBytes bounds an invoke or fire request body (1 MB).
	MaxPayloadBytes int64
	// Namespace throttles (whisk.limits.actions.invokes.perMinute,
	// .concurrent, whisk.limits.triggers.fires.perMinute), enforced as
	// OpenWhisk's Entitlement does (see throttle.go) and raised or lowered
	// per namespace by its limits document in the subjects database.
	InvocationsPerMinute, ConcurrentInvocations, FiresPerMinute int
	// SharedConcurrency counts concurrent invocations across the cluster,
	// as OpenWhisk's scheduler (FPCPoolBalancer) does; when false each
	// controller allows its share (limit / controllers), as the
	// ShardingContainerPoolBalancer does. Rates are always divided.
	SharedConcurrency bool
}

// withDefaults fills zero fields with OpenWhisk's defaults.
func (l Limits) withDefaults() Limits {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	l.Ranges = l.Ranges.WithDefaults()
	def(&l.StdMemoryMB, 256)
	def(&l.StdTimeoutMS, 60000)
	def(&l.StdLogsMB, 10)
	def(&l.StdConcurrency, 1)
	def(&l.SequenceMaxLength, 50)
	def(&l.InvocationsPerMinute, 60)
	def(&l.ConcurrentInvocations, 30)
	def(&l.FiresPerMinute, 60)
	if l.MaxBlockingWait <= 0 {
		l.MaxBlockingWait = 60 * time.Second
	}
	if l.MaxPayloadBytes <= 0 {
		l.MaxPayloadBytes = 1 << 20
	}
	return l
}

func (l Limits) validate() error {
	type rng struct {
		name          string
		min, std, max int
	}
	for _, r := range []rng{
		{"memory", l.MinMemoryMB, l.StdMemoryMB, l.MaxMemoryMB},
		{"timeout", l.MinTimeoutMS, l.StdTimeoutMS, l.MaxTimeoutMS},
		{"logs", l.MinLogsMB, l.StdLogsMB, l.MaxLogsMB},
		{"concurrency", l.MinConcurrency, l.StdConcurrency, l.MaxConcurrency},
	} {
		if r.min < 0 || r.min > r.std || r.std > r.max {
			return fmt.Errorf("controller: %s limits must satisfy 0 <= min <= std <= max (got %d/%d/%d)", r.name, r.min, r.std, r.max)
		}
	}
	return nil
}

// std returns the standard action limits.
func (l Limits) std() entity.Limits {
	return entity.Limits{Timeout: l.StdTimeoutMS, Memory: l.StdMemoryMB, Logs: l.StdLogsMB, Concurrency: l.StdConcurrency}
}

// Runtime is one kind the controller accepts and shows in GET /.
type Runtime struct {
	Kind        string // "nodejs:20"; the family is the part before ':'
	Image       string // shown in GET /; informational
	Default     bool   // the kind "<family>:default" resolves to
	Deprecated  bool
	RequireMain bool
}

// DefaultRuntimes are the kinds of the local stack: nodejs:20 and python:3,
// each the default of its family.
func DefaultRuntimes() []Runtime {
	return []Runtime{
		{Kind: "nodejs:20", Image: "openwhisk/action-nodejs-v20:nightly", Default: true},
		{Kind: "python:3", Image: "openwhisk/python3action:nightly", Default: true},
	}
}

// Options configures a Controller.
type Options struct {
	// ID is the controller's instance ("0" → controller0, acks on completed0).
	ID string
	// Addr to listen on ("127.0.0.1:3233"; port 0 picks one).
	Addr string
	// CouchURL of the CouchDB-protocol server, credentials included if any.
	CouchURL string
	// DBPrefix of the whisks, subjects and activations databases.
	DBPrefix string
	// Brokers are the Kafka bootstrap addresses.
	Brokers []string
	// Invokers is the number of invoker topics invoker0..N-1 (default 1).
	Invokers int
	// APIHost is the public base URL of the API (http://127.0.0.1:3233): the
	// rules of a fired trigger are invoked through it, as OpenWhisk does.
	// Empty means this controller's own URL.
	APIHost string
	// Limits are the system limits; zero fields take OpenWhisk's defaults.
	Limits Limits
	// Runtimes offered; DefaultRuntimes when empty.
	Runtimes []Runtime
	// IdentityTTL is how long an authenticated key is cached
	// (DefaultIdentityTTL when zero; negative turns caching off).
	IdentityTTL time.Duration
	// DisableUserEvents stops Metric and sequence Activation events on the
	// events topic (they are on by default, as in the local stack's spec).
	DisableUserEvents bool
	// Controllers is the number of controllers of the deployment
	// (loadBalancer.clusterSize), dividing the throttles; 1 when zero.
	Controllers int
	// TopicPrefix is whisk.kafka.topics.prefix: it prefixes invokerN,
	// completedN, health and cacheInvalidation. UserEventTopicPrefix is
	// whisk.kafka.topics.user-event.prefix, prefixing events (ansible sets
	// it to TopicPrefix unless told otherwise; application.conf defaults
	// both to "").
	TopicPrefix, UserEventTopicPrefix string
	// Logger; nothing is logged when nil.
	Logger *slog.Logger

	// dbPoll is how often a blocking invoke reads the activations database
	// in case its ack never comes (defaultDBPoll; tests shorten it).
	dbPoll time.Duration
}

// defaultDBPoll is the slow database polling of a blocking invoke.
const defaultDBPoll = 5 * time.Second

func (o Options) withDefaults() (Options, error) {
	if o.ID == "" {
		o.ID = DefaultID
	}
	if strings.ContainsAny(o.ID, "/ ") {
		return o, fmt.Errorf("controller: invalid ID %q", o.ID)
	}
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.CouchURL == "" {
		return o, errors.New("controller: Options.CouchURL is required")
	}
	if o.DBPrefix == "" {
		o.DBPrefix = DefaultDBPrefix
	}
	if len(o.Brokers) == 0 {
		return o, errors.New("controller: Options.Brokers is required")
	}
	if o.Invokers <= 0 {
		o.Invokers = 1
	}
	if o.Controllers <= 0 {
		o.Controllers = 1
	}
	if o.APIHost != "" {
		u, err := url.Parse(o.APIHost)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return o, fmt.Errorf("controller: APIHost %q must be an http(s) URL", o.APIHost)
		}
		o.APIHost = strings.TrimRight(o.APIHost, "/")
	}
	o.Limits = o.Limits.withDefaults()
	if err := o.Limits.validate(); err != nil {
		return o, err
	}
	if len(o.Runtimes) == 0 {
		o.Runtimes = DefaultRuntimes()
	}
	if o.IdentityTTL == 0 {
		o.IdentityTTL = DefaultIdentityTTL
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.dbPoll <= 0 {
		o.dbPoll = defaultDBPoll
	}
	return o, nil
}
