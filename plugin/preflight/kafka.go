package preflight

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/fnmgr/fnmgr/kafka/message"
	"github.com/fnmgr/fnmgr/plugin/config"
)

// topicUse says why fnmgr needs each topic, for the fix.
var topicUse = map[string]string{
	message.TopicHealth:            "fnmgr reads invoker health pings (MAX_MEMORY) from it; OpenWhisk's invokers create it",
	message.TopicEvents:            "fnmgr reads activation events from it: enable OpenWhisk's user events (whisk.userEvents.enabled=true; Helm: metrics.userMetricsEnabled=true)",
	message.TopicCacheInvalidation: "fnmgr writes cache invalidations to it; OpenWhisk's controllers create it",
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
	for _, t := range resp.Topics {
		if t.Topic != nil && t.ErrorCode == 0 {
			have[*t.Topic] = true
		}
	}
	out := []Result{ok("kafka", target, fmt.Sprintf("%d broker(s), %d topic(s)", len(resp.Brokers), len(have)))}
	needed := make([]string, 0, len(topicUse))
	for t := range topicUse {
		needed = append(needed, t)
	}
	sort.Strings(needed)
	for _, t := range needed {
		if have[t] {
			out = append(out, ok("kafka topic", t, "exists"))
		} else {
			out = append(out, fail("kafka topic", t, "does not exist", topicUse[t]))
		}
	}
	var invokers []string
	for t := range have {
		if strings.HasPrefix(t, "invoker") {
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
