// Package producer publishes fnmgr's messages to OpenWhisk's Kafka topics
// through a sarama SyncProducer: values are UTF-8 JSON, keys null, as
// OpenWhisk's own producers write them.
package producer

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/fnmgr/fnmgr/kafka/message"
)

// Options configure a Producer.
type Options struct {
	Brokers []string
	// InstanceID is written as the cache invalidation's instanceId; it must
	// not be a controller's ("controller0"), or that controller would ignore
	// the message. Default "fnmgr".
	InstanceID string
	// TopicPrefix is whisk.kafka.topics.prefix (default "").
	TopicPrefix string
	ClientID    string
	Timeout     time.Duration
}

// Producer is safe for concurrent use.
type Producer struct {
	o Options
	p sarama.SyncProducer
}

// New connects to the brokers.
func New(o Options) (*Producer, error) {
	if len(o.Brokers) == 0 {
		return nil, fmt.Errorf("producer: no Kafka brokers configured")
	}
	if o.InstanceID == "" {
		o.InstanceID = "fnmgr"
	}
	if o.ClientID == "" {
		o.ClientID = "fnmgr"
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	cfg := sarama.NewConfig()
	cfg.ClientID = o.ClientID
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Timeout = o.Timeout
	cfg.Producer.Retry.Max = 5
	cfg.Producer.Retry.Backoff = 100 * time.Millisecond
	cfg.Net.DialTimeout = o.Timeout
	cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
	p, err := sarama.NewSyncProducer(o.Brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("producer: connect to %v: %w", o.Brokers, err)
	}
	return &Producer{o: o, p: p}, nil
}

// Close flushes and closes the producer.
func (p *Producer) Close() error {
	if err := p.p.Close(); err != nil {
		return fmt.Errorf("producer: close: %w", err)
	}
	return nil
}

// Publish sends v as JSON to topic (prefix applied).
func (p *Producer) Publish(ctx context.Context, topic string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("producer: encode %T: %w", v, err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := p.p.SendMessage(&sarama.ProducerMessage{Topic: p.o.TopicPrefix + topic, Value: sarama.ByteEncoder(b)})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("producer: send to %s: %w", topic, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("producer: send to %s: %w", topic, ctx.Err())
	}
}

// Invalidate publishes OpenWhisk's cache invalidation for docid, so that
// controllers drop their cached copy of an entity fnmgr wrote in CouchDB.
func (p *Producer) Invalidate(ctx context.Context, docid string) error {
	return p.Publish(ctx, message.TopicCacheInvalidation,
		message.CacheInvalidation{Key: message.CacheKey{MainID: docid}, InstanceID: p.o.InstanceID})
}

// Lazy connects on first use and again after a failure, so fnmgr starts
// while Kafka is down and catches up once it is back. It is safe for
// concurrent use.
type Lazy struct {
	o  Options
	mu sync.Mutex
	p  *Producer
}

// NewLazy returns a producer that connects on first use.
func NewLazy(o Options) *Lazy { return &Lazy{o: o} }

func (l *Lazy) get() (*Producer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.p != nil {
		return l.p, nil
	}
	p, err := New(l.o)
	if err != nil {
		return nil, err
	}
	l.p = p
	return p, nil
}

// Invalidate implements openwhisk.Invalidator.
func (l *Lazy) Invalidate(ctx context.Context, docid string) error {
	p, err := l.get()
	if err != nil {
		return err
	}
	return p.Invalidate(ctx, docid)
}

// Close closes the producer if it was connected.
func (l *Lazy) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.p == nil {
		return nil
	}
	err := l.p.Close()
	l.p = nil
	return err
}
