package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fnmgr/fnmgr/kafka/message"
)

// errTooLarge reports a message over the broker's size limit (413).
var errTooLarge = errors.New("controller: message too large")

// fetchWait keeps consumer latency low on the local broker.
const fetchWait = 50 * time.Millisecond

// newProducer returns the client that produces every message: null keys,
// UTF-8 JSON values, no linger.
func newProducer(brokers []string, id string) (*kgo.Client, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ClientID("controller"+id),
		kgo.ProducerLinger(0),
		kgo.AllowAutoTopicCreation(),
		kgo.RecordDeliveryTimeout(30*time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("controller: kafka producer: %w", err)
	}
	return cl, nil
}

// consumer is one consumer group member on one topic, as OpenWhisk's
// controller runs them: group id = its own topic/instance string.
type consumer struct {
	cl       *kgo.Client
	topic    string
	assigned chan struct{}
	once     sync.Once
	done     chan struct{}
}

func newConsumer(brokers []string, clientID, group, topic string) (*consumer, error) {
	c := &consumer{topic: topic, assigned: make(chan struct{}), done: make(chan struct{})}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ClientID(clientID),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.FetchMaxWait(fetchWait),
		// A new group reads what was already there: the controller is not
		// serving requests before it joined, so nothing it waits for is
		// older, and unknown ids are ignored.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AllowAutoTopicCreation(),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			c.once.Do(func() { close(c.assigned) })
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("controller: kafka consumer %s: %w", group, err)
	}
	c.cl = cl
	return c, nil
}

// run polls until ctx ends, handing every record value to handle.
func (c *consumer) run(ctx context.Context, log *slog.Logger, handle func([]byte)) {
	defer close(c.done)
	for {
		fetches := c.cl.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return
		}
		fetches.EachError(func(topic string, _ int32, err error) {
			if !errors.Is(err, context.Canceled) {
				log.Warn("kafka fetch failed", "topic", topic, "err", err)
			}
		})
		fetches.EachRecord(func(r *kgo.Record) { handle(r.Value) })
	}
}

// waitAssigned blocks until the group assigned the topic or ctx ends.
func (c *consumer) waitAssigned(ctx context.Context) error {
	select {
	case <-c.assigned:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("controller: join consumer group for %s: %w", c.topic, context.Cause(ctx))
	}
}

// topic is name with whisk.kafka.topics.prefix (Controller.topicPrefix).
func (c *Controller) topic(name string) string { return c.opts.TopicPrefix + name }

// produce sends v as JSON on topic and waits for the broker's ack.
func (c *Controller) produce(ctx context.Context, topic string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("controller: encode message for %s: %w", topic, err)
	}
	res := c.producer.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: b})
	if err := res.FirstErr(); err != nil {
		if errors.Is(err, kerr.MessageTooLarge) {
			return fmt.Errorf("controller: produce to %s: %w: %w", topic, errTooLarge, err)
		}
		return fmt.Errorf("controller: produce to %s: %w", topic, err)
	}
	return nil
}

// publishInvalidation announces a changed or deleted entity on
// cacheInvalidation. Failures are logged: the write itself succeeded.
func (c *Controller) publishInvalidation(ctx context.Context, docid string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	msg := message.CacheInvalidation{Key: message.CacheKey{MainID: docid}, InstanceID: c.instance}
	if err := c.produce(ctx, c.topic(message.TopicCacheInvalidation), msg); err != nil {
		c.log.Warn("cache invalidation not published", "doc", docid, "err", err)
	}
}

// handleInvalidation drops the named entity unless this instance sent it.
func (c *Controller) handleInvalidation(b []byte) {
	var m message.CacheInvalidation
	if err := message.Decode(b, &m); err != nil {
		c.log.Warn("bad cache invalidation message", "err", err)
		return
	}
	if m.InstanceID == c.instance || m.Key.MainID == "" {
		return
	}
	c.cache.invalidate(m.Key.MainID)
	c.log.Debug("cache invalidated", "doc", m.Key.MainID, "from", m.InstanceID)
}
