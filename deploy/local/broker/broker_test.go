package broker_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/fnmgr/fnmgr/deploy/local/broker"
)

func startBroker(t *testing.T, o broker.Options) *broker.Broker {
	t.Helper()
	b, err := broker.Start(t.Context(), o)
	require.NoError(t, err)
	t.Cleanup(b.Stop)
	return b
}

func TestDefaultTopics(t *testing.T) {
	cases := []struct {
		name                  string
		invokers, controllers int
		want                  []string
	}{
		{"none", 0, 0, []string{"health", "events", "cacheInvalidation"}},
		{"helm default", 1, 1, []string{"invoker0", "completed0", "health", "events", "cacheInvalidation"}},
		{"two each", 2, 2, []string{"invoker0", "invoker1", "completed0", "completed1", "health", "events", "cacheInvalidation"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, broker.DefaultTopics(tc.invokers, tc.controllers))
		})
	}
}

// produceFunc sends value to topic; consumeFunc reads the first record of
// topic in a fresh consumer group that starts at the oldest offset.
type (
	produceFunc func(ctx context.Context, t *testing.T, addrs []string, topic, value string)
	consumeFunc func(ctx context.Context, t *testing.T, addrs []string, topic, group string) string
)

func saramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "broker-test"
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
	return cfg
}

func saramaProduce(_ context.Context, t *testing.T, addrs []string, topic, value string) {
	p, err := sarama.NewSyncProducer(addrs, saramaConfig())
	require.NoError(t, err)
	defer p.Close()
	_, _, err = p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(value)})
	require.NoError(t, err)
}

type saramaHandler struct{ got chan<- string }

func (saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		s.MarkMessage(m, "")
		select {
		case h.got <- string(m.Value):
		case <-s.Context().Done():
			return nil
		}
	}
	return nil
}

func saramaConsume(ctx context.Context, t *testing.T, addrs []string, topic, group string) string {
	g, err := sarama.NewConsumerGroup(addrs, group, saramaConfig())
	require.NoError(t, err)
	defer g.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{topic}, saramaHandler{got}); err != nil {
				errc <- err
				return
			}
		}
	}()
	select {
	case v := <-got:
		return v
	case err := <-errc:
		t.Fatalf("sarama consume: %v", err)
	case <-ctx.Done():
		t.Fatalf("sarama consume: %v", ctx.Err())
	}
	return ""
}

func kgoProduce(ctx context.Context, t *testing.T, addrs []string, topic, value string) {
	c, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr())
}

func kgoConsume(ctx context.Context, t *testing.T, addrs []string, topic, group string) string {
	c, err := kgo.NewClient(
		kgo.SeedBrokers(addrs...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	require.NoError(t, err)
	defer c.Close()
	for {
		fs := c.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("kgo consume: %v", err)
		}
		for _, e := range fs.Errors() {
			t.Fatalf("kgo consume %s/%d: %v", e.Topic, e.Partition, e.Err)
		}
		if recs := fs.Records(); len(recs) > 0 {
			require.NoError(t, c.CommitRecords(ctx, recs...))
			return string(recs[0].Value)
		}
	}
}

var clients = []struct {
	name    string
	produce produceFunc
	consume consumeFunc
}{
	{"sarama", saramaProduce, saramaConsume},
	{"kgo", kgoProduce, kgoConsume},
}

// TestProduceConsume proves both client libraries interoperate through the
// broker on OpenWhisk's topics, in every producer/consumer pairing.
func TestProduceConsume(t *testing.T) {
	b := startBroker(t, broker.Options{Topics: broker.DefaultTopics(2, 2)})
	addrs := b.Addrs()
	topics := broker.DefaultTopics(2, 2)
	for i, p := range clients {
		for j, c := range clients {
			topic := topics[2*i+j] // a topic of its own for each pairing
			t.Run(p.name+" to "+c.name, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
				defer cancel()
				want := fmt.Sprintf("%s->%s", p.name, c.name)
				p.produce(ctx, t, addrs, topic, want)
				require.Equal(t, want, c.consume(ctx, t, addrs, topic, "group-"+topic))
			})
		}
	}
}

func metadataTopics(ctx context.Context, t *testing.T, addrs []string) map[string]int {
	t.Helper()
	c, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	require.NoError(t, err)
	defer c.Close()
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, c)
	require.NoError(t, err)
	got := map[string]int{}
	for _, tp := range resp.Topics {
		require.NotNil(t, tp.Topic)
		got[*tp.Topic] = len(tp.Partitions)
	}
	for _, br := range resp.Brokers {
		require.Equal(t, "127.0.0.1", br.Host, "advertised broker host")
	}
	return got
}

func TestTopicsAndAddress(t *testing.T) {
	want := broker.DefaultTopics(1, 1)
	b := startBroker(t, broker.Options{Topics: want})

	t.Run("topics have one partition", func(t *testing.T) {
		got := metadataTopics(t.Context(), t, b.Addrs())
		for _, topic := range want {
			require.Equal(t, 1, got[topic], topic)
		}
	})

	t.Run("listens on 127.0.0.1 only", func(t *testing.T) {
		addrs := b.Addrs()
		require.Len(t, addrs, 1)
		host, port, err := net.SplitHostPort(addrs[0])
		require.NoError(t, err)
		require.Equal(t, "127.0.0.1", host)

		other := nonLoopbackIP(t)
		if other == nil {
			t.Skip("no non-loopback address on this machine to probe")
		}
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(other.String(), port), time.Second)
		if err == nil {
			conn.Close()
			t.Fatalf("broker answers on %s", other)
		}
	})
}

func nonLoopbackIP(t *testing.T) net.IP {
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP
		}
	}
	return nil
}

// topicIDs returns the id of every topic, as a Metadata request (v10 and
// later) names them.
func topicIDs(ctx context.Context, t *testing.T, addrs []string) map[string][16]byte {
	t.Helper()
	c, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	require.NoError(t, err)
	defer c.Close()
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, c)
	require.NoError(t, err)
	got := map[string][16]byte{}
	for _, tp := range resp.Topics {
		require.NotNil(t, tp.Topic)
		got[*tp.Topic] = tp.TopicID
	}
	return got
}

// TestRestart stops and starts the broker. With Dir it must come back as a
// real Kafka does, since the local stack's controller and invoker keep
// their clients across a broker restart: the same topic ids (a client
// asks for a topic by the id it learned; a new id answers
// UNKNOWN_TOPIC_ID), the records, and the groups' committed offsets.
func TestRestart(t *testing.T) {
	cases := []struct {
		name     string
		dir      bool
		wantKept bool
	}{
		{"in memory loses records", false, false},
		{"with Dir keeps records, topic ids and offsets", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := broker.Options{Topics: []string{"invoker0", "health"}}
			if tc.dir {
				o.Dir = t.TempDir()
			}
			b := startBroker(t, o)
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			addrs := b.Addrs()
			// A client that lives through the restart, as the stack's do.
			long, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ProducerLinger(0),
				kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
			require.NoError(t, err)
			defer long.Close()
			require.NoError(t, long.ProduceSync(ctx, &kgo.Record{Topic: "health", Value: []byte("ping")}).FirstErr())
			kgoProduce(ctx, t, addrs, "invoker0", "before")
			require.Equal(t, "before", kgoConsume(ctx, t, addrs, "invoker0", "resumed-group"))
			ids := topicIDs(ctx, t, addrs)

			b.Stop()
			b.Stop() // idempotent
			_, err = net.DialTimeout("tcp", addrs[0], time.Second)
			require.Error(t, err, "broker still listening after Stop")

			require.NoError(t, b.Start(ctx))
			require.ErrorIs(t, b.Start(ctx), broker.ErrRunning)
			require.Equal(t, addrs, b.Addrs(), "restart must keep the address")
			require.Equal(t, 1, metadataTopics(ctx, t, addrs)["invoker0"], "seed topic after restart")

			kgoProduce(ctx, t, addrs, "invoker0", "after")
			first := kgoConsume(ctx, t, addrs, "invoker0", "restart-group")
			after := topicIDs(ctx, t, addrs)
			if !tc.wantKept {
				require.Equal(t, "after", first)
				require.NotEqual(t, ids["invoker0"], after["invoker0"], "a topic created again has a new id")
				return
			}
			require.Equal(t, "before", first)
			require.Equal(t, ids, after, "topic ids survive the restart")
			require.Equal(t, "after", kgoConsume(ctx, t, addrs, "invoker0", "resumed-group"),
				"the group resumes from the offset it committed before the restart")
			require.NoError(t, long.ProduceSync(ctx, &kgo.Record{Topic: "health", Value: []byte("ping")}).FirstErr(),
				"a client from before the restart produces again")
		})
	}
}

func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	_, err = broker.Start(t.Context(), broker.Options{Port: port})
	require.ErrorIs(t, err, broker.ErrPortInUse)
	require.Contains(t, err.Error(), strconv.Itoa(port))

	_, err = broker.Start(t.Context(), broker.Options{Port: -1})
	require.Error(t, err)
	require.False(t, errors.Is(err, broker.ErrPortInUse))
}
