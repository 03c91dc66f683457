package controller

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/kafka/message"
)

// stepper adds "<action>": true to its input; an action named "fail*"
// returns an error result.
func stepper(msg message.Activation) (int, json.RawMessage) {
	in := map[string]any{}
	_ = json.Unmarshal(msg.Content, &in)
	if strings.HasPrefix(msg.Action.Name, "fail") {
		return entity.StatusApplicationError, json.RawMessage(`{"error":"stop here"}`)
	}
	in[msg.Action.Name] = true
	b, _ := json.Marshal(in)
	return entity.StatusSuccess, b
}

func (e *env) putSequence(name string, components ...string) response {
	e.t.Helper()
	return e.guest(http.MethodPut, "/api/v1/namespaces/_/actions/"+name+"?overwrite=true",
		map[string]any{"exec": map[string]any{"kind": "sequence", "components": components}})
}

func TestSequences(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Limits.SequenceMaxLength = 4 })
	fi := e.startFakeInvoker(stepper, ackCombined)
	events := e.consumer(message.TopicEvents)
	code := helloJS
	for _, n := range []string{"a", "b", "c", "fail"} {
		_, _, err := e.wsk.Actions.Insert(&whisk.Action{Name: n, Exec: &whisk.Exec{Kind: "nodejs:default", Code: &code},
			Limits: &whisk.Limits{Memory: intp(128 + 64*len(n))}}, false)
		require.NoError(t, err)
	}
	e.putHello("big", nil, nil)

	t.Run("create stores resolved components and _actions", func(t *testing.T) {
		r := e.putSequence("s", "/_/a", "/guest/b")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		doc := e.rawDoc("guest/s")
		exec := doc["exec"].(map[string]any)
		require.Equal(t, []any{"/guest/a", "/guest/b"}, exec["components"])
		require.NotContains(t, exec, "binary")
		require.Equal(t, []any{map[string]any{"key": "_actions", "value": []any{"/guest/a", "/guest/b"}}}, doc["parameters"])
	})

	t.Run("creation errors", func(t *testing.T) {
		cases := []struct {
			name       string
			components []string
			msg        string
		}{
			{"missing component", []string{"/_/a", "/_/nope"}, msgSequenceNotFound},
			{"no component", []string{}, msgSequenceNoComponent},
			{"itself", []string{"/_/a", "/_/bad"}, msgSequenceCyclic},
			{"too long", []string{"/_/a", "/_/b", "/_/c", "/_/a", "/_/b"}, msgSequenceTooLong},
			{"too long when inlined", []string{"/_/s", "/_/s", "/_/a"}, msgSequenceTooLong},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.putSequence("bad", c.components...)
				require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
				require.Equal(t, c.msg, r.errorBody(t))
			})
		}
		r := e.putSequence("bad", "/other/a")
		require.Equal(t, http.StatusForbidden, r.status)
		require.Equal(t, "The supplied authentication is not authorized to access 'other/a'.", r.errorBody(t))
		require.Equal(t, http.StatusOK, e.putSequence("s2", "/_/s", "/_/c").status)
		r = e.putSequence("s", "/_/a", "/_/s2")
		require.Equal(t, http.StatusBadRequest, r.status, "a cycle through another sequence")
		require.Equal(t, msgSequenceCyclic, r.errorBody(t))
	})

	var seqID string
	t.Run("blocking run", func(t *testing.T) {
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/s?blocking=true", map[string]any{"in": 1})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var v entity.ActivationView
		r.json(t, &v)
		seqID = v.ActivationID
		require.JSONEq(t, `{"in":1,"a":true,"b":true}`, string(v.Response.Result))
		ma, mb := fi.next(t), fi.next(t)
		require.Equal(t, []string{ma.ActivationID, mb.ActivationID}, v.Logs)
		for _, m := range []message.Activation{ma, mb} {
			require.Equal(t, seqID, m.Cause)
			require.True(t, m.Blocking)
		}
		require.Equal(t, true, annotation(t, v.Annotations, "topmost"))
		require.Equal(t, "guest/s", annotation(t, v.Annotations, "path"))
		require.Equal(t, "sequence", annotation(t, v.Annotations, "kind"))
		require.NotNil(t, annotation(t, v.Annotations, "waitTime"))
		lim := annotation(t, v.Annotations, "limits").(map[string]any)
		require.EqualValues(t, 128+64, lim["memory"], "the largest component memory")
		require.EqualValues(t, 14, *v.Duration, "sum of the component durations")
		stored, err := e.ctl.getActivation(t.Context(), "guest", seqID)
		require.NoError(t, err)
		require.Equal(t, v.Logs, stored.Logs)
		ev := waitEvent(t, events, seqID)
		require.Equal(t, "guest/s", ev.Activation.Name)
		require.Equal(t, "sequence", ev.Activation.Kind)
		require.Equal(t, 128+64, ev.Activation.Memory)
		require.Empty(t, ev.Activation.CausedBy)
		require.Equal(t, "controller0", ev.Source)
	})

	t.Run("nested sequence", func(t *testing.T) {
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/s2?blocking=true", map[string]any{})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var v entity.ActivationView
		r.json(t, &v)
		require.JSONEq(t, `{"a":true,"b":true,"c":true}`, string(v.Response.Result))
		require.Len(t, v.Logs, 2)
		inner, err := e.ctl.getActivation(t.Context(), "guest", v.Logs[0])
		require.NoError(t, err)
		require.Equal(t, v.ActivationID, inner.Cause)
		require.Equal(t, "s", inner.Name)
		require.Equal(t, false, annotation(t, inner.Annotations, "topmost"))
		require.Equal(t, "sequence", annotation(t, inner.Annotations, "causedBy"))
		ma, mb, mc := fi.next(t), fi.next(t), fi.next(t)
		require.Equal(t, inner.ActivationID, ma.Cause)
		require.Equal(t, inner.ActivationID, mb.Cause)
		require.Equal(t, v.ActivationID, mc.Cause)
		ev := waitEvent(t, events, inner.ActivationID)
		require.Equal(t, "sequence", ev.Activation.CausedBy)
	})

	t.Run("stops at the first error", func(t *testing.T) {
		require.Equal(t, http.StatusOK, e.putSequence("sf", "/_/a", "/_/fail", "/_/b").status)
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/sf?blocking=true", map[string]any{})
		require.Equal(t, http.StatusBadGateway, r.status, "%s", r.body)
		var v entity.ActivationView
		r.json(t, &v)
		require.Equal(t, "application error", v.Response.Status)
		require.JSONEq(t, `{"error":"stop here"}`, string(v.Response.Result))
		require.Len(t, v.Logs, 2)
		fi.next(t)
		fi.next(t)
	})

	t.Run("non-blocking", func(t *testing.T) {
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/s", map[string]any{})
		require.Equal(t, http.StatusAccepted, r.status)
		var v entity.ActivationID
		r.json(t, &v)
		require.Eventually(t, func() bool {
			_, err := e.ctl.getActivation(t.Context(), "guest", v.ActivationID)
			return err == nil
		}, 10*time.Second, 20*time.Millisecond)
		fi.next(t)
		fi.next(t)
	})
}

// annotation returns the decoded value of key.
func annotation(t *testing.T, kv entity.KeyValues, key string) any {
	t.Helper()
	raw, ok := kv.Get(key)
	if !ok {
		return nil
	}
	var v any
	require.NoError(t, json.Unmarshal(raw, &v))
	return v
}

// waitEvent waits for the Activation event of activation id.
func waitEvent(t *testing.T, r *topicReader, id string) message.Event {
	t.Helper()
	var ev message.Event
	r.next(t, func(b []byte) bool {
		var e message.Event
		if json.Unmarshal(b, &e) != nil || e.Activation == nil || e.Activation.ActivationID != id {
			return false
		}
		ev = e
		return true
	})
	return ev
}
