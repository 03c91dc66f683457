// Package broker runs the Kafka-protocol broker of fnmgr's local stack: an
// in-process franz-go kfake cluster of one broker, listening on 127.0.0.1.
//
// kfake speaks the Kafka wire protocol well enough for sarama (which
// OpenWhisk-compatible components use) and franz-go clients alike: produce,
// fetch, consumer groups, offset commits, CreateTopics. Topics named in
// Options.Topics exist from the start with one partition each; clients may
// create more, and a topic a client asks for that does not exist is created
// with one partition.
//
// Restarts: Stop closes the listener and every connection; Start brings the
// broker back on the same address. Without Options.Dir kfake keeps nothing
// across a restart: records, committed offsets and topics created by clients
// are gone, and the topics of Options.Topics are created again empty. With
// Options.Dir, kfake persists its state there and reloads it on Start.
//
// Broker's methods are safe for concurrent use.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Topic names OpenWhisk uses, as in its Helm deployment.
const (
	TopicHealth            = "health"
	TopicEvents            = "events"
	TopicCacheInvalidation = "cacheInvalidation"
)

// DefaultHost is the address the broker binds unless Options.Host says
// otherwise.
const DefaultHost = "127.0.0.1"

var (
	// ErrPortInUse reports that the requested address is already taken.
	ErrPortInUse = errors.New("port already in use")
	// ErrRunning reports a Start on a Broker that is already running.
	ErrRunning = errors.New("already running")
)

// InvokerTopic is the topic that invoker n consumes activations from.
func InvokerTopic(n int) string { return "invoker" + strconv.Itoa(n) }

// CompletedTopic is the topic that controller n consumes completions from.
func CompletedTopic(n int) string { return "completed" + strconv.Itoa(n) }

// DefaultTopics returns the topics of an OpenWhisk deployment with the given
// number of invokers and controllers: invoker0.., completed0.., health,
// events and cacheInvalidation.
func DefaultTopics(invokers, controllers int) []string {
	return PrefixedTopics(invokers, controllers, "", "")
}

// PrefixedTopics is DefaultTopics with OpenWhisk's topic prefixes:
// whisk.kafka.topics.prefix before invokerN, completedN, health and
// cacheInvalidation, and whisk.kafka.topics.user-event.prefix before events
// (Controller.scala, UserEvents.scala).
func PrefixedTopics(invokers, controllers int, prefix, userEventPrefix string) []string {
	topics := make([]string, 0, invokers+controllers+3)
	for i := range invokers {
		topics = append(topics, prefix+InvokerTopic(i))
	}
	for i := range controllers {
		topics = append(topics, prefix+CompletedTopic(i))
	}
	return append(topics, prefix+TopicHealth, userEventPrefix+TopicEvents, prefix+TopicCacheInvalidation)
}

// Options configures a Broker.
type Options struct {
	// Host is the address to bind; DefaultHost when empty.
	Host string
	// Port to listen on; 0 picks a free port, which later Starts reuse.
	Port int
	// Topics to create with one partition each.
	Topics []string
	// Dir, when set, makes the broker persist its state there and reload it
	// on Start. When empty, nothing survives Stop.
	Dir string
	// Logger receives kfake's log; nothing is logged when nil.
	Logger *slog.Logger
}

// Broker is a one-broker kfake cluster.
type Broker struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	port    int
	cluster *kfake.Cluster // nil while stopped
}

// Start validates o and starts the broker. The context is accepted for
// symmetry with the other parts of the stack: kfake binds synchronously.
func Start(ctx context.Context, o Options) (*Broker, error) {
	if o.Host == "" {
		o.Host = DefaultHost
	}
	if o.Port < 0 || o.Port > 65535 {
		return nil, fmt.Errorf("broker: invalid port %d", o.Port)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b := &Broker{opts: o, log: logger.With("component", "broker"), port: o.Port}
	if err := b.Start(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// Start starts the broker again after Stop, on the same address. It fails
// with ErrRunning while running.
func (b *Broker) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("broker: start: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cluster != nil {
		return fmt.Errorf("broker: start: %w", ErrRunning)
	}
	host := b.opts.Host
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(b.port),
		// kfake always asks for 127.0.0.1:<port>; bind the configured host.
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, port, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			return net.Listen(network, net.JoinHostPort(host, port))
		}),
		kfake.ClusterID("fnmgr-local"),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(1),
		// Let tests of failover use short group sessions.
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
		kfake.WithLogger(slogAdapter{b.log}),
	}
	if len(b.opts.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(1, b.opts.Topics...))
	}
	if b.opts.Dir != "" {
		opts = append(opts, kfake.DataDir(b.opts.Dir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		addr := net.JoinHostPort(host, strconv.Itoa(b.port))
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("broker: %s: %w", addr, ErrPortInUse)
		}
		return fmt.Errorf("broker: start on %s: %w", addr, err)
	}
	addrs := c.ListenAddrs()
	if len(addrs) != 1 {
		c.Close()
		return fmt.Errorf("broker: kfake listens on %d addresses, want 1", len(addrs))
	}
	_, port, err := net.SplitHostPort(addrs[0])
	if err == nil {
		b.port, err = strconv.Atoi(port)
	}
	if err != nil {
		c.Close()
		return fmt.Errorf("broker: parse listen address %q: %w", addrs[0], err)
	}
	b.cluster = c
	b.log.Info("kafka broker ready", "addr", addrs[0], "topics", len(b.opts.Topics), "persistent", b.opts.Dir != "")
	return nil
}

// Addrs returns the bootstrap addresses (one host:port). They stay the same
// across restarts.
func (b *Broker) Addrs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return []string{net.JoinHostPort(b.opts.Host, strconv.Itoa(b.port))}
}

// Stop closes the listener and every client connection. Without Options.Dir
// all data is dropped. Stopping a stopped broker is a no-op.
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cluster == nil {
		return
	}
	b.cluster.Close()
	b.cluster = nil
	b.log.Info("kafka broker stopped")
}

// slogAdapter passes kfake's log to slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Logf(level kfake.LogLevel, format string, args ...any) {
	var l slog.Level
	switch level {
	case kfake.LogLevelError:
		l = slog.LevelError
	case kfake.LogLevelWarn:
		l = slog.LevelWarn
	case kfake.LogLevelInfo:
		// kfake logs every request at info; that is debug detail here.
		l = slog.LevelDebug
	default:
		l = slog.LevelDebug - 4
	}
	ctx := context.Background()
	if !a.l.Enabled(ctx, l) {
		return
	}
	a.l.Log(ctx, l, fmt.Sprintf(format, args...))
}
