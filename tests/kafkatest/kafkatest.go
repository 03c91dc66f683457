// Package kafkatest answers, for tests, what a Kafka consumer group has
// done: whether it has committed every record of a topic. A test that
// means "nothing more arrives" awaits that positive sign instead of
// sleeping while redeliveries might come.
package kafkatest

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Consumed reports whether group has committed, on every partition of
// topic, the partition's end offset: it has processed every record
// produced to topic before the call (a consumer marks a record after
// handling it, and commits what it marked).
func Consumed(ctx context.Context, cl *kgo.Client, group, topic string) (bool, error) {
	ends, err := endOffsets(ctx, cl, topic)
	if err != nil {
		return false, err
	}
	committed, err := committedOffsets(ctx, cl, group, topic)
	if err != nil {
		return false, err
	}
	for p, end := range ends {
		if committed[p] < end {
			return false, nil
		}
	}
	return true, nil
}

func endOffsets(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	meta.Topics = append(meta.Topics, mt)
	mresp, err := meta.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: metadata of %s: %w", topic, err)
	}
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for _, t := range mresp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return nil, fmt.Errorf("kafkatest: metadata of %s: %w", topic, err)
		}
		for _, p := range t.Partitions {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = p.Partition
			rp.Timestamp = -1 // the end
			rt.Partitions = append(rt.Partitions, rp)
		}
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: end offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("kafkatest: end offset of %s/%d: %w", topic, p.Partition, err)
			}
			out[p.Partition] = p.Offset
		}
	}
	return out, nil
}

func committedOffsets(ctx context.Context, cl *kgo.Client, group, topic string) (map[int32]int64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	req.Topics = nil // every topic and partition the group committed
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("kafkatest: committed offsets of %s: %w", group, err)
	}
	out := map[int32]int64{}
	if err := kerr.ErrorForCode(resp.ErrorCode); errors.Is(err, kerr.GroupIDNotFound) {
		return out, nil // the group has committed nothing yet
	} else if err != nil {
		return nil, fmt.Errorf("kafkatest: committed offsets of %s: %w", group, err)
	}
	add := func(topics []kmsg.OffsetFetchResponseTopic) {
		for _, t := range topics {
			if t.Topic != topic {
				continue
			}
			for _, p := range t.Partitions {
				out[p.Partition] = p.Offset
			}
		}
	}
	add(resp.Topics)
	for _, g := range resp.Groups {
		if g.Group != group {
			continue
		}
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				if t.Topic == topic {
					out[p.Partition] = p.Offset
				}
			}
		}
	}
	return out, nil
}
