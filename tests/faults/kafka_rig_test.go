package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fnmgr/fnmgr/deploy/local/broker"
	"github.com/fnmgr/fnmgr/kafka/consumer"
	"github.com/fnmgr/fnmgr/kafka/message"
	"github.com/fnmgr/fnmgr/plugin/analyzer"
	"github.com/fnmgr/fnmgr/plugin/invokers"
	"github.com/fnmgr/fnmgr/tests/kafkatest"
)

// kafkaRig is fnmgr's two Kafka listeners (events into the analyzer,
// health into the invoker tracker), wired as plugin/app wires them, on a
// broker of the test's own.
type kafkaRig struct {
	b        *broker.Broker
	prod     *kgo.Client
	metrics  *consumer.Metrics
	an       *analyzer.Analyzer
	tr       *invokers.Tracker
	groups   map[string]*consumer.Group // by topic
	stopAll  func()
	deadline time.Duration
}

// newKafkaRig starts a broker (persistent in dir when dir is set, as a real
// Kafka is) and the listeners, and waits until both groups joined.
func newKafkaRig(t *testing.T, dir string) *kafkaRig {
	t.Helper()
	ctx := context.Background()
	b, err := broker.Start(ctx, broker.Options{Topics: []string{message.TopicEvents, message.TopicHealth}, Dir: dir})
	require.NoError(t, err)
	t.Cleanup(b.Stop)
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ProducerLinger(0),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
	require.NoError(t, err)
	t.Cleanup(prod.Close)
	reg := prometheus.NewRegistry()
	r := &kafkaRig{b: b, prod: prod, metrics: consumer.NewMetrics(reg), an: analyzer.New(nil, reg),
		tr: invokers.New(time.Minute, 0), groups: map[string]*consumer.Group{}, deadline: 30 * time.Second}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	for topic, h := range map[string]consumer.Handler{message.TopicEvents: r.an.Handle, message.TopicHealth: r.tr.Handle} {
		g, err := consumer.New(consumer.Options{Brokers: b.Addrs(), GroupID: "fnmgr-" + topic, InstanceID: "fnmgr-" + topic + "-faults",
			Topics: []string{topic}, Handler: h, Oldest: true, Metrics: r.metrics})
		require.NoError(t, err)
		r.groups[topic] = g
		go func() { _ = g.Run(cctx); done <- struct{}{} }()
	}
	r.stopAll = func() { cancel(); <-done; <-done }
	t.Cleanup(r.stopAll)
	r.waitJoined(t, true)
	return r
}

// waitJoined waits until both groups have (or have not) joined: what
// fnmgr's readiness reads.
func (r *kafkaRig) waitJoined(t *testing.T, joined bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		return r.groups[message.TopicEvents].Joined() == joined && r.groups[message.TopicHealth].Joined() == joined
	}, r.deadline, 5*time.Millisecond, "consumer groups joined = %v", joined)
}

// waitConsumed waits until the listener of topic has committed the
// topic's end: it has processed every record produced before the call.
func (r *kafkaRig) waitConsumed(t *testing.T, topic string) {
	t.Helper()
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), r.deadline)
		defer cancel()
		ok, err := kafkatest.Consumed(ctx, r.prod, "fnmgr-"+topic, topic)
		return err == nil && ok
	}, r.deadline, 20*time.Millisecond, "the %s listener commits the topic's end", topic)
}

// produce writes values to topic in order (one partition), retrying
// through a broker outage.
func (r *kafkaRig) produce(t *testing.T, topic string, values [][]byte) {
	t.Helper()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Topic: topic, Value: v}
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.deadline)
	defer cancel()
	require.NoError(t, r.prod.ProduceSync(ctx, recs...).FirstErr())
}

// outcome is how many messages of topic the listener took as ok and as
// malformed.
func (r *kafkaRig) outcome(topic string) (ok, malformed float64) {
	m := r.metrics.Messages()
	return testutil.ToFloat64(m.WithLabelValues(topic, "ok")), testutil.ToFloat64(m.WithLabelValues(topic, "malformed"))
}

// waitProcessed waits until the listener of topic has processed n
// messages in all (ok and malformed).
func (r *kafkaRig) waitProcessed(t *testing.T, topic string, n float64) {
	t.Helper()
	require.Eventually(t, func() bool {
		ok, bad := r.outcome(topic)
		return ok+bad >= n
	}, r.deadline, 5*time.Millisecond, "%s: %v messages processed", topic, n)
}

// deliver mixes garbageN garbage messages into values, shuffles them,
// writes them to topic and waits until the listener has processed them
// all; each garbage message must have been counted as malformed, once.
// what names the batch in failure messages.
func (r *kafkaRig) deliver(t *testing.T, rng *rand.Rand, topic string, values [][]byte, garbageN int, what string) {
	t.Helper()
	for range garbageN {
		values = append(values, garbage(rng, topic))
	}
	rng.Shuffle(len(values), func(i, j int) { values[i], values[j] = values[j], values[i] })
	ok0, bad0 := r.outcome(topic)
	r.produce(t, topic, values)
	r.waitProcessed(t, topic, ok0+bad0+float64(len(values)))
	_, bad := r.outcome(topic)
	require.Equal(t, float64(garbageN), bad-bad0, "%s: every garbage message is counted as malformed, once", what)
}

// activationEvent is an Activation user event as the invoker writes it.
func activationEvent(fqn, id string, status int, initTime int64) []byte {
	b, _ := json.Marshal(message.Event{Source: "invoker0", Subject: "guest", Namespace: "guest", UserID: "u",
		EventType: message.EventActivation, Timestamp: time.Now().UnixMilli(),
		Activation: &message.ActivationEvent{Name: fqn, ActivationID: id, StatusCode: status, Duration: 5,
			InitTime: initTime, Kind: "nodejs:20", Memory: 256}})
	return b
}

func metricEvent() []byte {
	b, _ := json.Marshal(message.Event{Source: "controller0", EventType: message.EventMetric, Namespace: "guest",
		Metric: &message.MetricEvent{MetricName: "ConcurrentInvocations", MetricValue: 3}})
	return b
}

func ping(instance, memoryMB int) []byte {
	b, _ := json.Marshal(message.Ping{Name: message.InvokerInstance{Instance: instance, UserMemory: message.FormatBytes(int64(memoryMB) << 20),
		InstanceType: "invoker", Tags: []string{}, DedicatedNamespaces: []string{}}})
	return b
}

// garbage returns a message value a listener cannot decode: not JSON,
// cut short, the wrong shape or types, or an unknown event type.
func garbage(rng *rand.Rand, topic string) []byte {
	random := make([]byte, 1+rng.IntN(64))
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	random[0] = 0xff // never valid JSON
	valid := activationEvent("guest/x", "x", 0, 0)
	if topic == message.TopicHealth {
		valid = ping(0, 256)
	}
	choices := [][]byte{
		random,
		valid[:1+rng.IntN(len(valid)-2)],
		[]byte(`[1,2,3]`),
		[]byte(`"a string"`),
		[]byte(``),
	}
	if topic == message.TopicEvents {
		choices = append(choices,
			[]byte(`{"eventType":"Activation","body":{"name":"guest/x","statusCode":"0"}}`),
			[]byte(`{"eventType":"Unknown","body":{}}`),
			[]byte(`{"eventType":"Activation","body":[]}`))
	} else {
		choices = append(choices,
			[]byte(`{"name":{"instance":"0","userMemory":"256 MB"}}`),
			[]byte(`{"name":{"instance":0,"userMemory":"lots"}}`),
			[]byte(`{"name":{"instance":0,"userMemory":"9223372036854775807 G"}}`))
	}
	return choices[rng.IntN(len(choices))]
}

// fqnOf names function k of run r.
func fqnOf(run, k int) string { return fmt.Sprintf("guest/run%03d-f%d", run, k) }
