package consumer_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fnmgr/fnmgr/deploy/local/broker"
	"github.com/fnmgr/fnmgr/kafka/consumer"
	"github.com/fnmgr/fnmgr/plugin/analyzer"
	"github.com/fnmgr/fnmgr/tests/kafkatest"
)

// TestEventsCountedOnce pushes user events and garbage through a real
// Kafka-protocol broker: every event is counted exactly once, garbage is
// skipped and counted, and a restarted consumer resumes from its committed
// offset without counting anything again.
func TestEventsCountedOnce(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 5_000
	}
	ctx := context.Background()
	b, err := broker.Start(ctx, broker.Options{Topics: []string{"events"}})
	require.NoError(t, err)
	t.Cleanup(b.Stop)

	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ProducerLinger(5*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(prod.Close)
	produce := func(from, to int, garbage int) {
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			v := fmt.Sprintf(`{"source":"invoker0","body":{"name":"guest/f%d","activationId":"%032d","statusCode":0,"duration":5,"waitTime":0,"initTime":0,"kind":"nodejs:20","conductor":false,"memory":256},"subject":"guest","namespace":"guest","userId":"u","eventType":"Activation","timestamp":1}`, i%10, i)
			recs = append(recs, &kgo.Record{Topic: "events", Value: []byte(v)})
			if i%(n/garbage+1) == 0 {
				recs = append(recs, &kgo.Record{Topic: "events", Value: []byte{0xde, 0xad, 0xbe, 0xef}})
			}
		}
		require.NoError(t, prod.ProduceSync(ctx, recs...).FirstErr())
	}

	reg := prometheus.NewRegistry()
	metrics := consumer.NewMetrics(reg)
	an := analyzer.New(nil, reg)
	var handled atomic.Int64
	run := func() (stop func()) {
		g, err := consumer.New(consumer.Options{Brokers: b.Addrs(), GroupID: "fnmgr-events-test", Topics: []string{"events"},
			Oldest: true, Metrics: metrics, Handler: func(ctx context.Context, topic string, v []byte) error {
				handled.Add(1)
				return an.Handle(ctx, topic, v)
			}})
		require.NoError(t, err)
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = g.Run(cctx) }()
		return func() { cancel(); <-done }
	}
	total := func() int64 {
		var s int64
		for i := range 10 {
			st, _ := an.Stats(fmt.Sprintf("guest/f%d", i))
			s += st.Activations
		}
		return s
	}

	produce(0, n/2, 10)
	stop := run()
	require.Eventually(t, func() bool { return total() == int64(n/2) }, 60*time.Second, 20*time.Millisecond)
	malformed := testutil.ToFloat64(metrics.Messages().WithLabelValues("events", "malformed"))
	require.Greater(t, malformed, 0.0, "garbage is counted")
	// Await the commit of everything counted, then restart: nothing is
	// counted twice.
	consumed := func() bool {
		ok, err := kafkatest.Consumed(ctx, prod, "fnmgr-events-test", "events")
		return err == nil && ok
	}
	require.Eventually(t, consumed, 30*time.Second, 20*time.Millisecond, "the group commits what it counted")
	stop()
	produce(n/2, n, 10)
	stop = run()
	defer stop()
	require.Eventually(t, func() bool { return total() == int64(n) }, 60*time.Second, 20*time.Millisecond)
	// A record counted twice would be handled before the group commits the
	// topic's end: once it has, nothing more is to come.
	require.Eventually(t, consumed, 30*time.Second, 20*time.Millisecond, "the group commits what it counted")
	require.Equal(t, int64(n), total(), "every event counted exactly once")
}
