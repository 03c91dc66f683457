package invoker

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// fetchMaxWait keeps the latency from the controller's produce to the
// invoker's poll small.
const fetchMaxWait = 50 * time.Millisecond

// commitInterval is how often handled offsets are committed.
const commitInterval = 500 * time.Millisecond

// kafkaProducer is the publisher over a franz-go client: null keys, no
// lingering, topics created on first use if the broker allows.
type kafkaProducer struct {
	cl *kgo.Client
}

func newKafkaProducer(brokers []string, clientID string) (*kafkaProducer, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ClientID(clientID),
		kgo.ProducerLinger(0),
		kgo.AllowAutoTopicCreation(),
	)
	if err != nil {
		return nil, fmt.Errorf("invoker: kafka producer: %w", err)
	}
	return &kafkaProducer{cl: cl}, nil
}

// Publish sends value on topic and waits for the broker's acknowledgement.
func (p *kafkaProducer) Publish(ctx context.Context, topic string, value []byte) error {
	if err := p.cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: value}).FirstErr(); err != nil {
		return fmt.Errorf("invoker: produce on %s: %w", topic, err)
	}
	return nil
}

// close flushes what is buffered (bounded by ctx) and closes the client.
func (p *kafkaProducer) close(ctx context.Context) error {
	err := p.cl.Flush(ctx)
	p.cl.Close()
	if err != nil {
		return fmt.Errorf("invoker: flush producer: %w", err)
	}
	return nil
}

// newKafkaConsumer joins the consumer group named like the topic, as
// OpenWhisk's invoker does. It commits only the offsets marked as handled
// (every commitInterval, when partitions are revoked, and on Stop). A group
// without committed offsets starts at the beginning of the topic, so
// activations sent before the invoker joined are not lost.
func newKafkaConsumer(brokers []string, topic, clientID string) (*kgo.Client, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ClientID(clientID),
		kgo.ConsumerGroup(topic),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(fetchMaxWait),
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(commitInterval),
		kgo.AllowAutoTopicCreation(),
	)
	if err != nil {
		return nil, fmt.Errorf("invoker: kafka consumer: %w", err)
	}
	return cl, nil
}
