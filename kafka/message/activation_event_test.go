package message

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
)

func intp(v int) *int { return &v }

func TestUserDefinedStatusCode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		result string
		want   *int
	}{
		{`{"ok":true}`, nil},
		{`{"payload":1}`, nil},
		{`{"statusCode":201}`, intp(201)},
		{`{"statusCode":404.7}`, intp(404)},
		{`{"statusCode":"418"}`, intp(418)},
		{`{"statusCode":"i404"}`, intp(400)},
		{`{"statusCode":"abc"}`, intp(400)},
		{`{"statusCode":null}`, intp(400)},
		{`{"statusCode":true}`, intp(400)},
		{`{"statusCode":4294967497}`, intp(201)}, // BigInt.intValue keeps the low 32 bits
		{`{"error":{"statusCode":404}}`, intp(404)},
		{`{"error":{"statusCode":"404","body":"nope"}}`, intp(404)},
		{`{"error":{"body":"nope"},"statusCode":503}`, intp(503)},
		{`{"error":"plain"}`, nil},
		{`[1]`, nil},
		{``, nil},
	}
	for _, tc := range cases {
		t.Run(tc.result, func(t *testing.T) {
			require.Equal(t, tc.want, userDefinedStatusCode(json.RawMessage(tc.result)))
		})
	}
}

func TestNewActivationEvent(t *testing.T) {
	t.Parallel()
	d := int64(35)
	size := 62
	full := entity.Activation{Namespace: "guest", Subject: "alice", ActivationID: "a1", Duration: &d,
		Response: entity.ActivationResponse{StatusCode: 1, Size: &size, Result: json.RawMessage(`{"statusCode":404}`)},
		Annotations: entity.KeyValues{}.With("path", "guest/pkg/f").With("kind", "nodejs:20").With("waitTime", 9).
			With("initTime", 120).With("limits", entity.Limits{Timeout: 1000, Memory: 256, Logs: 10, Concurrency: 1}).
			With("conductor", true).With("causedBy", "sequence")}
	now := time.UnixMilli(1700000000123)
	cases := []struct {
		name string
		act  entity.Activation
		want *Event // nil: no event
	}{
		{"every field", full, &Event{Source: "controller0", Subject: "alice", Namespace: "guest", UserID: "u",
			EventType: EventActivation, Timestamp: 1700000000123, Activation: &ActivationEvent{
				Name: "guest/pkg/f", ActivationID: "a1", StatusCode: 1, Duration: 35, WaitTime: 9, InitTime: 120,
				Kind: "nodejs:20", Conductor: true, Memory: 256, CausedBy: "sequence", Size: &size, UserDefinedStatusCode: intp(404)}}},
		{"no path", entity.Activation{Annotations: entity.KeyValues{}.With("kind", "nodejs:20")}, nil},
		{"no kind", entity.Activation{Annotations: entity.KeyValues{}.With("path", "guest/f")}, nil},
		{"only path and kind", entity.Activation{ActivationID: "a2", Annotations: entity.KeyValues{}.With("path", "guest/f").With("kind", "python:3")},
			&Event{Source: "controller0", UserID: "u", EventType: EventActivation, Timestamp: 1700000000123,
				Activation: &ActivationEvent{Name: "guest/f", ActivationID: "a2", Kind: "python:3"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := NewActivationEvent(&tc.act, "controller0", "u", now)
			if tc.want == nil {
				require.False(t, ok)
				return
			}
			require.True(t, ok)
			require.Equal(t, *tc.want, got)
		})
	}
}
