package kafkatest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fnmgr/fnmgr/deploy/local/broker"
)

// TestConsumed: a group that has not committed the topic's end has not
// consumed it; once it commits every record, it has.
func TestConsumed(t *testing.T) {
	ctx := context.Background()
	b, err := broker.Start(ctx, broker.Options{Topics: []string{"events"}})
	require.NoError(t, err)
	t.Cleanup(b.Stop)
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	require.NoError(t, err)
	t.Cleanup(prod.Close)
	require.NoError(t, prod.ProduceSync(ctx, &kgo.Record{Topic: "events", Value: []byte("a")},
		&kgo.Record{Topic: "events", Value: []byte("b")}).FirstErr())

	ok, err := Consumed(ctx, prod, "g", "events")
	require.NoError(t, err)
	require.False(t, ok, "nothing committed yet")

	cons, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("events"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	require.NoError(t, err)
	t.Cleanup(cons.Close)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var got int
	for got < 1 {
		fs := cons.PollRecords(pctx, 1) // one record: the end is not committed
		require.NoError(t, fs.Err())
		got += fs.NumRecords()
		require.NoError(t, cons.CommitUncommittedOffsets(ctx))
	}
	ok, err = Consumed(ctx, prod, "g", "events")
	require.NoError(t, err)
	require.False(t, ok, "one of two records committed")

	for got < 2 {
		fs := cons.PollRecords(pctx, 1)
		require.NoError(t, fs.Err())
		got += fs.NumRecords()
	}
	require.NoError(t, cons.CommitUncommittedOffsets(ctx))
	ok, err = Consumed(ctx, prod, "g", "events")
	require.NoError(t, err)
	require.True(t, ok, "every record committed")
}
