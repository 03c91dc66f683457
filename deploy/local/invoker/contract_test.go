package invoker

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/kafka/message"
	"github.com/fnmgr/fnmgr/tests/contract"
)

// These tests build documents and messages from the inputs behind the
// contract's samples and require the samples back, field for field (the
// annotation order included).

func readSample(t *testing.T, name string, v any) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(contract.Dir(t), name))
	require.NoError(t, err)
	if v != nil {
		require.NoError(t, json.Unmarshal(raw, v))
	}
	return raw
}

// sampleMessage is kafka-activation-message.json with its transaction
// started waitMs before start.
func sampleMessage(t *testing.T, start time.Time, waitMs int64) *message.Activation {
	t.Helper()
	var msg message.Activation
	readSample(t, "kafka-activation-message.json", &msg)
	msg.TransID = message.NewTransID(msg.TransID.ID(), start.Add(-time.Duration(waitMs)*time.Millisecond))
	return &msg
}

func sampleAction(name string, memory int, kind string) *entity.Action {
	l := entity.DefaultLimits()
	l.Memory = memory
	return &entity.Action{Namespace: "guest", Name: name, Version: "0.0.1", Limits: l, Exec: entity.Exec{Kind: kind}}
}

func ms(v int64) time.Time { return time.UnixMilli(v) }

func requireSameJSON(t *testing.T, want []byte, got any) {
	t.Helper()
	b, err := json.Marshal(got)
	require.NoError(t, err)
	if d := contract.Equal(want, b); d != "" {
		t.Fatalf("differs from the sample: %s\ngot: %s", d, b)
	}
}

func withoutRev(t *testing.T, raw []byte) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	delete(m, "_rev")
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func TestActivationDocumentsMatchContract(t *testing.T) {
	size25 := 25
	cases := []struct {
		sample string
		action *entity.Action
		msgID  string
		o      outcome
		wait   int64
		now    int64
	}{
		{
			sample: "couch-activation.json", action: sampleAction("hello", 256, "nodejs:20"),
			msgID: "be97c2fed5dc43d097c2fed5dc73d085", wait: 43, now: 1714560001500,
			o: outcome{start: ms(1714560001111), end: ms(1714560001420), cold: true, initTime: 279 * time.Millisecond,
				response: entity.ActivationResponse{Result: json.RawMessage(`{"payload":"Hello, World"}`), Size: &size25},
				logs:     []string{"2024-05-01T10:40:01.418000000Z stdout: handling request"}},
		},
		{
			sample: "couch-activation-timeout.json", action: sampleAction("slow", 256, "nodejs:20"),
			msgID: "3f1e2d4c5b6a47988a9b0c1d2e3f4a5b", wait: 12, now: 1714560064000,
			o: outcome{start: ms(1714560003000), end: ms(1714560063012), timedOut: true,
				response: normalizeResponse(2, json.RawMessage(`{"error":"The action exceeded its time limits of 60000 milliseconds."}`)),
				logs: []string{"2024-05-01T10:40:03.120000000Z stdout: starting long work",
					"2024-05-01T10:41:03.013Z       stderr: The action did not initialize or run as expected. Log data might be missing."}},
		},
		{
			sample: "couch-activation-oom.json", action: sampleAction("hog", 128, "nodejs:20"),
			msgID: "6c5b4a39281746a5b4c3d2e1f0a9b8c7", wait: 9, now: 1714560010000,
			o: outcome{start: ms(1714560005000), end: ms(1714560009300), cold: true, initTime: 301 * time.Millisecond,
				response: normalizeResponse(2, json.RawMessage(`{"error":"The action exhausted its memory and was aborted."}`)),
				logs:     []string{"2024-05-01T10:40:09.301Z       stderr: The action did not initialize or run as expected. Log data might be missing."}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.sample, func(t *testing.T) {
			raw := readSample(t, tc.sample, nil)
			msg := sampleMessage(t, tc.o.start, tc.wait)
			msg.ActivationID = tc.msgID
			got := buildActivation(msg, tc.action, tc.o, ms(tc.now))
			requireSameJSON(t, withoutRev(t, raw), got)
		})
	}
}

func TestAcksMatchContract(t *testing.T) {
	var want message.Ack
	readSample(t, "kafka-combined-completion-result-message.json", &want)
	instance := *want.Instance

	msg := sampleMessage(t, time.Now(), 0)
	require.NoError(t, json.Unmarshal([]byte(`["sGkq4o7Ic0NDDBxMqmgLmoHTfTQmU3J1",1714560000100]`), &msg.TransID))
	act := *want.Response.Activation
	act.ID, act.Updated, act.EntityType = "guest/"+act.ActivationID, 1714560001500, entity.TypeActivation

	t.Run("blocking", func(t *testing.T) {
		msg.Blocking = true
		b, err := encodeAck(msg, &act, instance)
		require.NoError(t, err)
		requireSameJSON(t, readSample(t, "kafka-combined-completion-result-message.json", nil), json.RawMessage(b))
	})
	t.Run("non-blocking is shrunk", func(t *testing.T) {
		msg.Blocking = false
		b, err := encodeAck(msg, &act, instance)
		require.NoError(t, err)
		requireSameJSON(t, readSample(t, "kafka-combined-completion-result-message-shrunk.json", nil), json.RawMessage(b))
	})
	t.Run("too large is shrunk", func(t *testing.T) {
		msg.Blocking = true
		big := act
		big.Logs = []string{string(make([]byte, maxAckBytes))}
		b, err := encodeAck(msg, &big, instance)
		require.NoError(t, err)
		requireSameJSON(t, readSample(t, "kafka-combined-completion-result-message-shrunk.json", nil), json.RawMessage(b))
	})
	t.Run("system error", func(t *testing.T) {
		msg.Blocking = false
		failed := act
		failed.Response = errorResponse(entity.StatusInternalError, msgActionFetch)
		b, err := encodeAck(msg, &failed, instance)
		require.NoError(t, err)
		var got message.Ack
		require.NoError(t, json.Unmarshal(b, &got))
		require.True(t, *got.IsSystemError)
	})
}

func TestEventsMatchContract(t *testing.T) {
	size62 := 62
	cases := []struct {
		sample string
		act    entity.Activation
	}{
		{sample: "kafka-event-activation.json", act: func() entity.Activation {
			var a entity.Activation
			readSample(t, "couch-activation.json", &a)
			return a
		}()},
		{sample: "kafka-event-activation-error.json", act: entity.Activation{
			Namespace: "guest", Subject: "guest", ActivationID: "2c3d4e5f60718293a4b5c6d7e8f90112",
			Duration: func() *int64 { d := int64(35); return &d }(),
			Response: entity.ActivationResponse{StatusCode: 1, Size: &size62,
				Result: json.RawMessage(`{"error":{"statusCode":404,"body":"Requested resource not found"}}`)},
			Annotations: entity.KeyValues{}.With(annPath, "guest/demo/hello").With(annWaitTime, 9).
				With(annKind, "python:3.11").With(annTimeout, false).
				With(annLimits, entity.Limits{Timeout: 60000, Memory: 128, Logs: 10, Concurrency: 1}).
				With(annCausedBy, "sequence"),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.sample, func(t *testing.T) {
			var want message.Event
			raw := readSample(t, tc.sample, &want)
			tc.act.Response.Size = want.Activation.Size // the samples' sizes are made up
			got, ok := message.NewActivationEvent(&tc.act, "invoker0", want.UserID, ms(want.Timestamp))
			require.True(t, ok)
			requireSameJSON(t, raw, got)
		})
	}
	t.Run("no event without kind", func(t *testing.T) {
		act := entity.Activation{Annotations: entity.KeyValues{}.With(annPath, "guest/x")}
		_, ok := message.NewActivationEvent(&act, "invoker0", "u", time.Now())
		require.False(t, ok)
	})
}

func TestPingMatchesContract(t *testing.T) {
	var want message.Ping
	raw := readSample(t, "kafka-ping-message.json", &want)
	got := newInstance(0, 2048)
	require.Equal(t, "invoker0", got.UniqueName)
	got.UniqueName, got.DisplayedName = want.Name.UniqueName, want.Name.DisplayedName
	b, err := pingMessage(got)
	require.NoError(t, err)
	requireSameJSON(t, raw, json.RawMessage(b))
}
