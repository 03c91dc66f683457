package invoker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/go-kivik/kivik/v4"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/kafka/message"
)

const (
	// maxAckBytes keeps an acknowledgement under the producer's and broker's
	// default message size (about 1 MB): a larger one is sent shrunk, as
	// OpenWhisk does after a RecordTooLargeException.
	maxAckBytes = 1_000_000
	// publishTimeout bounds one Kafka send.
	publishTimeout = 10 * time.Second
	// storeTimeout bounds one activation write attempt.
	storeTimeout = 10 * time.Second
)

// storeBackoff are the pauses between attempts to write an activation after
// a transient error.
var storeBackoff = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
	400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond}

// complete records act and reports it: the activation document first (so it
// can be read as soon as the controller learns of it), then the user event
// and the acknowledgement. Failures are logged once, with the activation id.
// A run that ended is reported even while Stop is aborting the others: only
// the per-call timeouts bound it.
func (i *Invoker) complete(ctx context.Context, msg *message.Activation, act entity.Activation) {
	ctx = context.WithoutCancel(ctx)
	if err := i.store(ctx, &act); err != nil {
		i.log.Error("activation not stored", "activationId", act.ActivationID, "err", err)
	}
	if i.opts.UserEvents {
		if ev, ok := message.NewActivationEvent(&act, i.source(), msg.User.Namespace.UUID, i.now()); ok {
			if err := i.publishJSON(ctx, i.opts.UserEventTopicPrefix+message.TopicEvents, ev); err != nil {
				i.log.Error("activation event not sent", "activationId", act.ActivationID, "err", err)
			}
		}
	}
	topic := i.opts.TopicPrefix + message.CompletedTopic(msg.RootControllerIndex.AsString)
	value, err := encodeAck(msg, &act, i.instance)
	if err == nil {
		err = i.publish(ctx, topic, value)
	}
	if err != nil {
		i.log.Error("activation not acknowledged", "activationId", act.ActivationID, "topic", topic, "err", err)
		return
	}
	i.log.Debug("activation completed", "activationId", act.ActivationID, "action", pathOf(&act),
		"statusCode", act.Response.StatusCode, "blocking", msg.Blocking)
}

// store creates the activation document, retrying briefly on transient
// errors. A conflict means an earlier attempt already wrote it.
func (i *Invoker) store(ctx context.Context, act *entity.Activation) error {
	var err error
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, storeTimeout)
		_, err = i.activations.Put(actx, act.ID, act)
		cancel()
		status := kivik.HTTPStatus(err)
		switch {
		case err == nil, status == http.StatusConflict:
			return nil
		case status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
			return fmt.Errorf("invoker: store activation %s: %w", act.ID, err)
		case attempt == len(storeBackoff):
			return fmt.Errorf("invoker: store activation %s after %d attempts: %w", act.ID, attempt+1, err)
		}
		select {
		case <-time.After(storeBackoff[attempt]):
		case <-ctx.Done():
			return fmt.Errorf("invoker: store activation %s: %w (last error: %w)", act.ID, ctx.Err(), err)
		}
	}
}

// encodeAck is the acknowledgement of act: a CombinedCompletionAndResult-
// Message carrying the whole activation for a blocking invoke, shrunk to the
// activation id for a non-blocking one or when it would be too large.
func encodeAck(msg *message.Activation, act *entity.Activation, instance message.InvokerInstance) ([]byte, error) {
	sysErr := act.Response.StatusCode == entity.StatusInternalError
	ack := message.Ack{TransID: msg.TransID, IsSystemError: &sysErr, Instance: &instance}
	if msg.Blocking {
		res := *act
		res.DocMeta, res.Updated, res.EntityType = entity.DocMeta{}, 0, ""
		ack.Response = &message.AckResponse{ActivationID: act.ActivationID, Activation: &res}
		b, err := json.Marshal(ack)
		if err != nil {
			return nil, fmt.Errorf("invoker: encode ack: %w", err)
		}
		if len(b) <= maxAckBytes {
			return b, nil
		}
	}
	ack.Response = &message.AckResponse{ActivationID: act.ActivationID}
	b, err := json.Marshal(ack)
	if err != nil {
		return nil, fmt.Errorf("invoker: encode ack: %w", err)
	}
	return b, nil
}

func (i *Invoker) publishJSON(ctx context.Context, topic string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("invoker: encode %T: %w", v, err)
	}
	return i.publish(ctx, topic, b)
}

func (i *Invoker) publish(ctx context.Context, topic string, value []byte) error {
	pctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	return i.producer.Publish(pctx, topic, value)
}

func pathOf(act *entity.Activation) string {
	p, _ := act.Annotations.String(annPath)
	return p
}
