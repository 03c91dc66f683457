package invoker

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// offsetTracker computes, per partition, the offset that may be committed
// while records are handled concurrently and finish out of order: one past
// the last record before which every record is done. A record that is never
// done (its activation was aborted by Stop) holds the commit point back, so
// that it is delivered again after a restart.
type offsetTracker struct {
	mu    sync.Mutex
	parts map[topicPartition]*partitionOffsets
}

type topicPartition struct {
	topic     string
	partition int32
}

type partitionOffsets struct {
	inflight map[int64]int32 // offset → leader epoch of the records being handled
	next     kgo.EpochOffset // one past the highest record started
}

func newOffsetTracker() *offsetTracker {
	return &offsetTracker{parts: map[topicPartition]*partitionOffsets{}}
}

// start records that r is being handled.
func (t *offsetTracker) start(r *kgo.Record) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := topicPartition{r.Topic, r.Partition}
	p := t.parts[k]
	if p == nil {
		p = &partitionOffsets{inflight: map[int64]int32{}, next: kgo.EpochOffset{Epoch: -1, Offset: -1}}
		t.parts[k] = p
	}
	p.inflight[r.Offset] = r.LeaderEpoch
	if next := (kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}); p.next.Less(next) {
		p.next = next
	}
}

// done records that r was handled and returns the commit point of its
// partition, in the form MarkCommitOffsets takes.
func (t *offsetTracker) done(r *kgo.Record) map[string]map[int32]kgo.EpochOffset {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.parts[topicPartition{r.Topic, r.Partition}]
	if p == nil {
		return nil
	}
	delete(p.inflight, r.Offset)
	point := p.next
	for off, epoch := range p.inflight {
		if off < point.Offset {
			point = kgo.EpochOffset{Epoch: epoch, Offset: off}
		}
	}
	return map[string]map[int32]kgo.EpochOffset{r.Topic: {r.Partition: point}}
}
