package controller

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/kafka/message"
)

// fakeInvoker consumes invoker0 like an invoker: it "runs" each activation
// with run, writes the activation record and acknowledges on the
// controller's completed topic. A nil result loses the activation.
type fakeInvoker struct {
	t    *testing.T
	e    *env
	run  func(msg message.Activation) (int, json.RawMessage)
	mode ackMode
	msgs chan message.Activation
	last int64 // start of the previous activation: starts strictly increase
}

type ackMode int

const (
	ackCombined       ackMode = iota // full activation for blocking, shrunk otherwise (the usual)
	ackShrunk                        // always only the id: the controller reads the record
	ackResultThenDone                // result message, then completion
	ackNever                         // no ack at all, but the record is written
	ackLost                          // neither ack nor record
)

// echo answers with the activation's content.
func echo(msg message.Activation) (int, json.RawMessage) { return entity.StatusSuccess, msg.Content }

func (e *env) startFakeInvoker(run func(message.Activation) (int, json.RawMessage), mode ackMode) *fakeInvoker {
	t := e.t
	t.Helper()
	fi := &fakeInvoker{t: t, e: e, run: run, mode: mode, msgs: make(chan message.Activation, 100)}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumerGroup("invoker0"), kgo.ConsumeTopics("invoker0"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond), kgo.ProducerLinger(0))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	store := whiskdb.New(e.couch.DB(e.prefix + "whisks"))
	go func() {
		defer close(done)
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				var msg message.Activation
				if err := json.Unmarshal(r.Value, &msg); err != nil {
					t.Errorf("fake invoker: bad message: %v", err)
					return
				}
				select {
				case fi.msgs <- msg:
				default:
				}
				fi.handle(ctx, cl, store, msg)
			})
		}
	}()
	return fi
}

func (fi *fakeInvoker) handle(ctx context.Context, cl *kgo.Client, store *whiskdb.Store, msg message.Activation) {
	docid := msg.Action.Path + "/" + msg.Action.Name
	a, err := store.GetAction(ctx, docid, msg.Revision)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			fi.t.Errorf("fake invoker: read %s@%s: %v", docid, msg.Revision, err)
		}
		return
	}
	if fi.mode == ackLost {
		return
	}
	status, result := fi.run(msg)
	if result == nil {
		return // lost: neither record nor ack
	}
	start := max(time.Now().UnixMilli(), fi.last+1)
	fi.last = start
	dur := int64(7)
	size := len(result)
	ann := entity.KeyValues{}.With("path", docid).With("waitTime", 3).With("kind", a.Exec.Kind).
		With("timeout", false).With("limits", a.Limits)
	if msg.Cause != "" {
		ann = ann.With("causedBy", "sequence")
	}
	act := entity.Activation{
		Name: msg.Action.Name, Namespace: msg.User.Namespace.Name, Subject: msg.User.Subject,
		ActivationID: msg.ActivationID, Cause: msg.Cause, Start: start, End: start + dur, Duration: &dur,
		Response: entity.ActivationResponse{StatusCode: status, Result: result, Size: &size},
		Logs:     []string{"2024-05-01T10:40:01.418000000Z stdout: fake"}, Version: msg.Action.Version, Annotations: ann,
	}
	doc := act
	doc.ID, doc.EntityType, doc.Updated = act.Namespace+"/"+act.ActivationID, entity.TypeActivation, time.Now().UnixMilli()
	if _, err := fi.e.couch.DB(fi.e.prefix+"activations").Put(ctx, doc.ID, doc); err != nil {
		fi.t.Errorf("fake invoker: store activation: %v", err)
		return
	}
	f := false
	inst := &message.InvokerInstance{Instance: 0, UserMemory: "2147483648 B", InstanceType: "invoker", Tags: []string{}, DedicatedNamespaces: []string{}}
	act.Logs = []string{}
	var acks []message.Ack
	switch {
	case fi.mode == ackNever:
	case fi.mode == ackResultThenDone:
		acks = append(acks, message.Ack{TransID: msg.TransID, Response: &message.AckResponse{ActivationID: act.ActivationID, Activation: &act}},
			message.Ack{TransID: msg.TransID, ActivationID: act.ActivationID, IsSystemError: &f, Instance: inst})
	case fi.mode == ackShrunk || !msg.Blocking:
		acks = append(acks, message.Ack{TransID: msg.TransID, Response: &message.AckResponse{ActivationID: act.ActivationID}, IsSystemError: &f, Instance: inst})
	default:
		acks = append(acks, message.Ack{TransID: msg.TransID, Response: &message.AckResponse{ActivationID: act.ActivationID, Activation: &act}, IsSystemError: &f, Instance: inst})
	}
	for _, ack := range acks {
		b, _ := json.Marshal(ack)
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: message.CompletedTopic(msg.RootControllerIndex.AsString), Value: b}).FirstErr(); err != nil && ctx.Err() == nil {
			fi.t.Errorf("fake invoker: ack: %v", err)
		}
	}
}

// next returns the next activation message the fake invoker received.
func (fi *fakeInvoker) next(t *testing.T) message.Activation {
	t.Helper()
	select {
	case m := <-fi.msgs:
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no activation message")
		return message.Activation{}
	}
}
