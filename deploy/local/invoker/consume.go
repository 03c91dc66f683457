package invoker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fnmgr/fnmgr/kafka/message"
)

// pollBackoff is the pause after a poll that returned only errors.
const pollBackoff = 200 * time.Millisecond

// consume polls activation messages while ctx lives and hands each to its
// own goroutine, at most maxInflight at a time (OpenWhisk's maxPeek: user
// memory over the smallest action memory). Handlers run under runCtx, which
// Stop cancels only when its deadline passes.
func (i *Invoker) consume(ctx, runCtx context.Context) {
	defer close(i.consumeDone)
	slots := make(chan struct{}, i.maxInflight)
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		free := 1
	more:
		for free < cap(slots) {
			select {
			case slots <- struct{}{}:
				free++
			default:
				break more
			}
		}
		fetches := i.consumer.PollRecords(ctx, free)
		recs := fetches.Records()
		for range free - len(recs) {
			<-slots
		}
		if fetches.IsClientClosed() || ctx.Err() != nil {
			// Records polled as the invoker stops are left uncommitted:
			// they are delivered again on the next start.
			for range recs {
				<-slots
			}
			return
		}
		failed := false
		fetches.EachError(func(topic string, partition int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			failed = true
			i.log.Warn("poll activations", "topic", topic, "partition", partition, "err", err)
		})
		if failed && len(recs) == 0 {
			select {
			case <-time.After(pollBackoff):
			case <-ctx.Done():
				return
			}
		}
		for _, rec := range recs {
			i.offsets.start(rec)
			i.handlers.Add(1)
			go func() {
				defer i.handlers.Done()
				defer func() { <-slots }()
				i.process(runCtx, rec)
			}()
		}
	}
}

// process decodes and handles one record and marks it for commit, unless
// its activation was aborted by Stop.
func (i *Invoker) process(ctx context.Context, rec *kgo.Record) {
	var msg message.Activation
	err := message.Decode(rec.Value, &msg)
	if err == nil {
		err = validate(&msg)
	}
	if err != nil {
		// Never log the payload: it holds the user's key and parameters.
		i.log.Error("malformed activation message skipped", "topic", rec.Topic, "partition", rec.Partition,
			"offset", rec.Offset, "bytes", len(rec.Value), "err", err)
	} else if err := i.handle(ctx, &msg); errors.Is(err, errAborted) {
		i.log.Warn("activation aborted by shutdown; it will be delivered again", "activationId", msg.ActivationID)
		return
	}
	i.consumer.MarkCommitOffsets(i.offsets.done(rec))
}

// errMalformed reports an activation message without a field the invoker
// needs.
var errMalformed = errors.New("invoker: activation message lacks a required field")

func validate(m *message.Activation) error {
	switch {
	case m.ActivationID == "":
		return fmt.Errorf("%w: %s", errMalformed, "activationId")
	case m.Action.Path == "" || m.Action.Name == "":
		return fmt.Errorf("%w: %s", errMalformed, "action")
	case m.User.Namespace.Name == "":
		return fmt.Errorf("%w: %s", errMalformed, "user.namespace")
	case m.RootControllerIndex.AsString == "":
		return fmt.Errorf("%w: %s", errMalformed, "rootControllerIndex")
	}
	return nil
}
