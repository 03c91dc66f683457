// Package consumer runs fnmgr's Kafka listeners: sarama consumer groups on
// OpenWhisk's topics under fnmgr's own group ids (so they never take
// messages away from OpenWhisk's consumers). A message's offset is marked
// for commit only after its handler returned; a message the handler cannot
// decode is counted, logged without its payload, and skipped.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrMalformed marks a message a handler could not decode: it is skipped
// (and committed), never retried.
var ErrMalformed = errors.New("consumer: malformed message")

// Handler processes one message value. Errors wrapping ErrMalformed skip
// the message; other errors are retried after a backoff, the message
// staying uncommitted.
type Handler func(ctx context.Context, topic string, value []byte) error

// Options configure a Group.
type Options struct {
	Brokers []string
	GroupID string
	Topics  []string
	Handler Handler
	// Oldest starts a new group at the oldest offset instead of the newest.
	Oldest bool
	// InstanceID, when set, makes this a static member of its group
	// (KIP-345): after a crash, the restarted process takes its partitions
	// back at once instead of waiting out the dead member's session. It
	// must differ between replicas (the host name does).
	InstanceID string
	Logger     *slog.Logger
	Metrics    *Metrics
}

// Group is one consumer group.
type Group struct {
	o      Options
	joined atomic.Bool
	// joinedAt is when the current session first held its partitions, in
	// Unix nanoseconds (0: not yet).
	joinedAt atomic.Int64
}

// New validates o.
func New(o Options) (*Group, error) {
	if len(o.Brokers) == 0 || o.GroupID == "" || len(o.Topics) == 0 || o.Handler == nil {
		return nil, errors.New("consumer: Brokers, GroupID, Topics and Handler are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Logger = o.Logger.With("component", "kafka", "group", o.GroupID)
	if o.Metrics != nil && o.Metrics.errors != nil {
		// The group's error count exists (at 0) before the first error,
		// so that alerts on its rate see a series.
		o.Metrics.errors.WithLabelValues(o.GroupID)
	}
	return &Group{o: o}, nil
}

// Joined reports whether the group has joined and holds its partitions.
func (g *Group) Joined() bool { return g.joined.Load() }

// Run consumes until ctx ends, reconnecting on errors. It returns ctx's
// error.
func (g *Group) Run(ctx context.Context) error {
	cfg := sarama.NewConfig()
	cfg.ClientID = "fnmgr"
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.Offsets.AutoCommit.Enable = true
	cfg.Consumer.Offsets.AutoCommit.Interval = 200 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cfg.Consumer.Group.Rebalance.Retry.Backoff = 200 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = 10 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = time.Second
	if g.o.InstanceID != "" {
		cfg.Version = sarama.V2_3_0_0
		cfg.Consumer.Group.InstanceId = g.o.InstanceID
	}
	cfg.Metadata.Retry.Backoff = 200 * time.Millisecond
	if g.o.Oldest {
		cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	}
	b := backoff{first: backoffMin, ceil: backoffMax, healthyAfter: healthyAfter}
	for ctx.Err() == nil {
		g.joinedAt.Store(0)
		err := g.session(ctx, cfg)
		held := g.heldFor(time.Now())
		g.joined.Store(false)
		if ctx.Err() != nil {
			break
		}
		wait := b.next(held) // rejoin soon after Kafka is back
		g.o.Metrics.error(g.o.GroupID)
		g.o.Logger.Warn("consumer group interrupted; reconnecting", "err", err, "held", held, "backoff", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return ctx.Err()
}

// heldFor is how long the current session has held its partitions at now
// (0: it never joined).
func (g *Group) heldFor(now time.Time) time.Duration {
	at := g.joinedAt.Load()
	if at == 0 {
		return 0
	}
	return now.Sub(time.Unix(0, at))
}

func (g *Group) session(ctx context.Context, cfg *sarama.Config) error {
	cg, err := sarama.NewConsumerGroup(g.o.Brokers, g.o.GroupID, cfg)
	if err != nil {
		return fmt.Errorf("consumer: join %s: %w", g.o.GroupID, err)
	}
	defer cg.Close()
	errs := make(chan error, 1)
	go func() {
		for err := range cg.Errors() {
			g.o.Metrics.error(g.o.GroupID)
			g.o.Logger.Warn("consumer error", "err", err)
		}
	}()
	go func() {
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, g.o.Topics, handler{g}); err != nil {
				errs <- err
				return
			}
		}
		errs <- ctx.Err()
	}()
	return <-errs
}

type handler struct{ g *Group }

func (h handler) Setup(sarama.ConsumerGroupSession) error {
	h.g.joined.Store(true)
	h.g.joinedAt.CompareAndSwap(0, time.Now().UnixNano()) // the first join of this session
	return nil
}

func (h handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	g := h.g
	for {
		select {
		case <-sess.Context().Done():
			return nil
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			for attempt := 0; ; attempt++ {
				err := g.o.Handler(sess.Context(), msg.Topic, msg.Value)
				if err == nil {
					g.o.Metrics.consumed(msg.Topic, "ok")
					break
				}
				if errors.Is(err, ErrMalformed) {
					g.o.Metrics.consumed(msg.Topic, "malformed")
					g.o.Logger.Warn("skipping malformed message", "topic", msg.Topic, "partition", msg.Partition,
						"offset", msg.Offset, "bytes", len(msg.Value), "err", err)
					break
				}
				g.o.Metrics.consumed(msg.Topic, "retry")
				g.o.Logger.Warn("message handler failed; retrying", "topic", msg.Topic, "offset", msg.Offset, "err", err)
				select {
				case <-sess.Context().Done():
					return nil
				case <-time.After(min(time.Duration(attempt+1)*100*time.Millisecond, 5*time.Second)):
				}
			}
			sess.MarkMessage(msg, "")
			g.o.Metrics.lag(msg.Topic, claim.HighWaterMarkOffset()-msg.Offset-1)
		}
	}
}

// Metrics of the consumers. A nil *Metrics records nothing.
type Metrics struct {
	messages *prometheus.CounterVec
	errors   *prometheus.CounterVec
	lagGauge *prometheus.GaugeVec
}

// NewMetrics registers the consumer metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "fnmgr", Subsystem: "kafka",
			Name: "messages_total", Help: "Kafka messages processed, by topic and outcome (ok, malformed, retry)."},
			[]string{"topic", "outcome"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "fnmgr", Subsystem: "kafka",
			Name: "consumer_errors_total", Help: "Consumer group errors and reconnects, by group."}, []string{"group"}),
		lagGauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "fnmgr", Subsystem: "kafka",
			Name: "consumer_lag", Help: "Messages behind the high-water mark after the last processed one, by topic."},
			[]string{"topic"}),
	}
	reg.MustRegister(m.messages, m.errors, m.lagGauge)
	return m
}

// Messages is the messages counter (topic, outcome), for tests and
// dashboards.
func (m *Metrics) Messages() *prometheus.CounterVec { return m.messages }

func (m *Metrics) consumed(topic, outcome string) {
	if m != nil {
		m.messages.WithLabelValues(topic, outcome).Inc()
	}
}

func (m *Metrics) error(group string) {
	if m != nil {
		m.errors.WithLabelValues(group).Inc()
	}
}

func (m *Metrics) lag(topic string, n int64) {
	if m != nil {
		m.lagGauge.WithLabelValues(topic).Set(float64(max(n, 0)))
	}
}
