package preflight

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/fnmgr/fnmgr/kafka/message"
	"github.com/fnmgr/fnmgr/plugin/config"
)

// topicUse says why fnmgr needs each topic (before its prefix), for the fix.
var topicUse = map[string]string{
	message.TopicHealth:            "fnmgr reads invoker health pings (MAX_MEMORY) from it; OpenWhisk's controllers and invokers create it (set --kafka-topic-prefix to OpenWhisk's whisk.kafka.topics.prefix)",
	message.TopicEvents:            "fnmgr reads activation events from it; OpenWhisk's controllers create it (set --kafka-user-events-topic-prefix to OpenWhisk's whisk.kafka.topics.user-event.prefix)",
	message.TopicCacheInvalidation: "fnmgr writes cache invalidations to it; OpenWhisk's controllers create it (set --kafka-topic-prefix to OpenWhisk's whisk.kafka.topics.prefix)",
}

// ActivityWindow is how recent a health ping or an activation event must
// be for `fnmgr check` not to warn.
const ActivityWindow = time.Minute

// activityLoss says what fnmgr loses without records on a topic, and what
// turns them on.
var activityLoss = map[string][2]string{
	message.TopicHealth: {"no invoker health ping in the last minute: MAX_MEMORY (the invoker pool's user memory) is unknown, so memory settings are bounded by the controller's limits alone, and fnmgr cannot list invokers",
		"OpenWhisk's invokers ping in the classic (ShardingContainerPoolBalancer) mode; in scheduler mode (FPCPoolBalancer, ansible master's default) there are none: set --max-memory (FNMGR_MAX_MEMORY) to the invokers' user memory (ansible invoker_user_memory, Helm whisk.containerPool.userMemory)"},
	message.TopicEvents: {"no activation event in the last minute: fnmgr keeps no activity statistics, passive optimization has nothing to read and code that ran while BLOCKED raises no alert",
		"turn on OpenWhisk's user events (whisk.userEvents.enabled=true; Helm: metrics.userMetricsEnabled=true; ansible: user_events_enabled=true); if they are on, the namespace may just have had no activation"},
}

func checkKafka(ctx context.Context, o Options) []Result {
	brokers := o.Config.KafkaBrokers
	target := strings.Join(brokers, ",")
	flag := fmt.Sprintf("--%s (%s)", config.FlagKafkaBrokers, config.EnvKafkaBrokers)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ClientID("fnmgr-check"), kgo.DialTimeout(o.Timeout),
		kgo.RequestRetries(1), kgo.RetryTimeout(o.Timeout))
	if err != nil {
		return []Result{fail("kafka", target, "invalid broker list: "+err.Error(), "set "+flag+" to host:port pairs")}
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest() // no topics: all of them
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return []Result{fail("kafka", target, "metadata request failed: "+err.Error(),
			"start Kafka or fix "+flag+" (Helm: <release>-kafka:9092; docker-compose: kafka:9092)")}
	}
	have := map[string]bool{}
	partitions := map[string][]int32{}
	for _, t := range resp.Topics {
		if t.Topic != nil && t.ErrorCode == 0 {
			have[*t.Topic] = true
			for _, p := range t.Partitions {
				partitions[*t.Topic] = append(partitions[*t.Topic], p.Partition)
			}
		}
	}
	out := []Result{ok("kafka", target, fmt.Sprintf("%d broker(s), %d topic(s)", len(resp.Brokers), len(have)))}
	needed := make([]string, 0, len(topicUse))
	for t := range topicUse {
		needed = append(needed, t)
	}
	sort.Strings(needed)
	for _, t := range needed {
		name := o.Config.Topic(t)
		if !have[name] {
			out = append(out, fail("kafka topic", name, "does not exist", topicUse[t]))
			continue
		}
		out = append(out, ok("kafka topic", name, "exists"))
		loss, watched := activityLoss[t]
		if !watched {
			continue
		}
		recent, err := recentRecord(ctx, cl, name, partitions[name], time.Now().Add(-ActivityWindow))
		switch {
		case err != nil:
			out = append(out, warn("kafka activity", name, "cannot tell when the last record arrived: "+err.Error(), loss[1]))
		case !recent:
			out = append(out, warn("kafka activity", name, loss[0], loss[1]))
		default:
			out = append(out, ok("kafka activity", name, "a record in the last minute"))
		}
	}
	var invokers []string
	for t := range have {
		if strings.HasPrefix(t, o.Config.KafkaTopicPrefix+"invoker") {
			invokers = append(invokers, t)
		}
	}
	sort.Strings(invokers)
	if len(invokers) == 0 {
		out = append(out, fail("kafka topic", "invoker*", "no invoker topic: no invoker has registered with this Kafka",
			"check that "+flag+" names OpenWhisk's Kafka and that its invokers run"))
	} else {
		out = append(out, ok("kafka topic", "invoker*", strings.Join(invokers, ", ")))
	}
	return out
}

// recentRecord reports whether topic holds a record stamped at or after
// since: Kafka answers a ListOffsets by timestamp with the first such
// record's offset, or -1 when there is none.
func recentRecord(ctx context.Context, cl *kgo.Client, topic string, partitions []int32, since time.Time) (bool, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for _, p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p
		rp.Timestamp = since.UnixMilli()
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return false, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				return false, fmt.Errorf("list offsets of %s[%d]: Kafka error code %d", topic, p.Partition, p.ErrorCode)
			}
			if p.Offset >= 0 {
				return true, nil
			}
		}
	}
	return false, nil
}
