package invoker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/deploy/local/actionrt"
	"github.com/fnmgr/fnmgr/kafka/message"
)

const (
	testAPIKey = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:SECRETKEYSECRETKEY"
	testSecret = "PARAM-SECRET-VALUE"
	testResult = "RESULT-SECRET-VALUE"
)

type harness struct {
	inv    *Invoker
	src    *fakeSource
	runner *fakeRunner
	docs   *fakeDocs
	pub    *fakePublisher
	logs   *lockedWriter
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{
		src: &fakeSource{revs: map[string]map[string]entity.Action{}, code: []byte("function main(){}")},
		runner: &fakeRunner{run: func(context.Context, actionrt.Action, json.RawMessage) (actionrt.Result, error) {
			now := time.Now()
			return actionrt.Result{StatusCode: 0, Result: json.RawMessage(`{"r":"` + testResult + `"}`),
				Logs: []string{"line"}, Start: now, End: now.Add(3 * time.Millisecond), InitTime: time.Millisecond}, nil
		}},
		docs: &fakeDocs{},
		pub:  &fakePublisher{},
		logs: &lockedWriter{w: &bytes.Buffer{}},
	}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.inv = &Invoker{
		opts:     Options{ID: 0, UserMemoryMB: 2048, UserEvents: true, APIHost: "http://127.0.0.1:3233"},
		log:      log.With("component", "invoker"),
		instance: newInstance(0, 2048),
		now:      time.Now,
		actions:  newActionCache(h.src),
		pool:     h.runner, activations: h.docs, producer: h.pub,
	}
	return h
}

func (h *harness) addAction(rev string, mutate func(*entity.Action)) entity.Action {
	a := entity.Action{DocMeta: entity.DocMeta{ID: "guest/hello", Rev: rev}, Namespace: "guest", Name: "hello",
		Version: "0.0.1", Limits: entity.DefaultLimits(),
		Exec:        entity.Exec{Kind: "nodejs:20", Code: &entity.Code{Ref: &entity.CodeRef{AttachmentName: "mem:x"}}},
		Annotations: entity.KeyValues{}.With("exec", "nodejs:20").With(annProvideAPIKey, false)}
	if mutate != nil {
		mutate(&a)
	}
	if h.src.revs[a.ID] == nil {
		h.src.revs[a.ID] = map[string]entity.Action{}
	}
	h.src.revs[a.ID][rev] = a
	h.src.revs[a.ID][""] = a
	return a
}

func testMessage(rev string, blocking bool) *message.Activation {
	return &message.Activation{
		TransID:  message.NewTransID("tid0123", time.Now()),
		Action:   entity.FullyQualifiedName{Path: "guest", Name: "hello", Version: "0.0.1"},
		Revision: rev,
		User: message.Identity{Subject: "guest", Namespace: message.Namespace{Name: "guest", UUID: "uuid-1"},
			AuthKey: message.AuthKey{APIKey: testAPIKey}},
		ActivationID:        "aid0001",
		RootControllerIndex: message.ControllerInstance{AsString: "0", InstanceType: "controller"},
		Blocking:            blocking,
		Content:             json.RawMessage(`{"name":"` + testSecret + `"}`),
	}
}

// results decodes what the handler stored and sent.
func (h *harness) results(t *testing.T) (stored entity.Activation, ack message.Ack, events []message.Event) {
	t.Helper()
	raw, ok := h.docs.docs["guest/aid0001"]
	require.True(t, ok, "activation stored")
	require.NoError(t, json.Unmarshal(raw, &stored))
	acks := h.pub.on("completed0")
	require.Len(t, acks, 1)
	require.NoError(t, json.Unmarshal(acks[0], &ack))
	for _, b := range h.pub.on("events") {
		var ev message.Event
		require.NoError(t, json.Unmarshal(b, &ev))
		events = append(events, ev)
	}
	return stored, ack, events
}

func TestHandle(t *testing.T) {
	type check func(t *testing.T, h *harness, act entity.Activation, ack message.Ack, evs []message.Event)
	cases := []struct {
		name     string
		setup    func(h *harness)
		blocking bool
		check    check
	}{
		{name: "success, blocking", blocking: true, setup: func(h *harness) { h.addAction("2-b", nil) },
			check: func(t *testing.T, h *harness, act entity.Activation, ack message.Ack, evs []message.Event) {
				require.Equal(t, 0, act.Response.StatusCode)
				require.Equal(t, message.AckCombined, ack.Kind())
				require.NotNil(t, ack.Response.Activation)
				require.Empty(t, ack.Response.Activation.ID)
				require.False(t, *ack.IsSystemError)
				require.Equal(t, "invoker0", ack.Instance.UniqueName)
				require.Len(t, evs, 1)
				require.Equal(t, "invoker0", evs[0].Source)
				require.Equal(t, "uuid-1", evs[0].UserID)
				spec := h.runner.specs[0]
				require.Equal(t, "guest/hello@2-b/256", spec.Key)
				require.Equal(t, "/guest/hello", spec.Env["__OW_ACTION_NAME"])
				require.Equal(t, "guest", spec.Env["__OW_NAMESPACE"])
				require.Equal(t, "aid0001", spec.Env["__OW_ACTIVATION_ID"])
				require.Equal(t, "http://127.0.0.1:3233", spec.Env["__OW_API_HOST"])
				require.NotEmpty(t, spec.Env["__OW_DEADLINE"])
				require.NotContains(t, spec.Env, "__OW_API_KEY", "provide-api-key is false")
				require.Equal(t, time.Minute, spec.Timeout)
				require.Equal(t, 256, spec.MemoryMB)
				require.JSONEq(t, `{"name":"`+testSecret+`"}`, string(h.runner.params[0]))
			}},
		{name: "success, non-blocking: shrunk ack", setup: func(h *harness) { h.addAction("2-b", nil) },
			check: func(t *testing.T, h *harness, act entity.Activation, ack message.Ack, _ []message.Event) {
				require.Nil(t, ack.Response.Activation)
				require.Equal(t, "aid0001", ack.ID())
			}},
		{name: "api key when the annotation is absent", setup: func(h *harness) {
			h.addAction("2-b", func(a *entity.Action) { a.Annotations = nil })
		}, check: func(t *testing.T, h *harness, _ entity.Activation, _ message.Ack, _ []message.Event) {
			require.Equal(t, testAPIKey, h.runner.specs[0].Env["__OW_API_KEY"])
		}},
		{name: "log limit 0 collects no logs", setup: func(h *harness) {
			h.addAction("2-b", func(a *entity.Action) { a.Limits.Logs = 0 })
		}, check: func(t *testing.T, h *harness, act entity.Activation, _ message.Ack, _ []message.Event) {
			require.Empty(t, act.Logs)
			require.NotNil(t, act.Logs)
		}},
		{name: "missing action: application error", blocking: true,
			check: func(t *testing.T, h *harness, act entity.Activation, ack message.Ack, evs []message.Event) {
				require.Equal(t, 1, act.Response.StatusCode)
				require.JSONEq(t, `{"error":"Action could not be found or may have been deleted."}`, string(act.Response.Result))
				require.False(t, *ack.IsSystemError)
				require.Len(t, evs, 1)
				require.Equal(t, "unknown", evs[0].Activation.Kind)
				require.Empty(t, h.runner.specs)
			}},
		{name: "unreadable database: whisk error", setup: func(h *harness) { h.src.getErr = statusErr(500) },
			check: func(t *testing.T, h *harness, act entity.Activation, ack message.Ack, _ []message.Event) {
				require.Equal(t, 3, act.Response.StatusCode)
				require.True(t, *ack.IsSystemError)
			}},
		{name: "revision gone: runs the latest", setup: func(h *harness) {
			h.addAction("3-c", nil)
		}, check: func(t *testing.T, h *harness, act entity.Activation, _ message.Ack, _ []message.Event) {
			require.Equal(t, 0, act.Response.StatusCode)
			require.Equal(t, "guest/hello@3-c/256", h.runner.specs[0].Key)
		}},
		{name: "blackbox: no Docker here", setup: func(h *harness) {
			h.addAction("2-b", func(a *entity.Action) { a.Exec = entity.Exec{Kind: "blackbox", Image: "openwhisk/example"} })
		}, check: func(t *testing.T, h *harness, act entity.Activation, _ message.Ack, _ []message.Event) {
			require.Equal(t, 2, act.Response.StatusCode)
			require.Contains(t, string(act.Response.Result), "openwhisk/example")
			require.Contains(t, string(act.Response.Result), "no Docker")
			v, _ := act.Annotations.String(annKind)
			require.Equal(t, "blackbox", v)
			require.Empty(t, h.runner.specs)
		}},
		{name: "sequence: not for an invoker", setup: func(h *harness) {
			h.addAction("2-b", func(a *entity.Action) { a.Exec = entity.Exec{Kind: "sequence", Components: []string{"/guest/a"}} })
		}, check: func(t *testing.T, h *harness, act entity.Activation, _ message.Ack, _ []message.Event) {
			require.Equal(t, 3, act.Response.StatusCode)
		}},
		{name: "unsupported kind", setup: func(h *harness) {
			h.addAction("2-b", func(a *entity.Action) { a.Exec.Kind = "java:8" })
			h.runner.run = func(context.Context, actionrt.Action, json.RawMessage) (actionrt.Result, error) {
				return actionrt.Result{}, fmt.Errorf("%w: java", actionrt.ErrUnsupportedKind)
			}
		}, check: func(t *testing.T, h *harness, act entity.Activation, _ message.Ack, _ []message.Event) {
			// A container that cannot start (ContainerProxy: whisk error).
			require.Equal(t, 3, act.Response.StatusCode)
			require.JSONEq(t, `{"error":"Failed to provision resources to run the action."}`, string(act.Response.Result))
		}},
		{name: "memory above the deployment's maximum", setup: func(h *harness) {
			h.addAction("2-b", func(a *entity.Action) { a.Limits.Memory = 1024 })
		}, check: func(t *testing.T, h *harness, act entity.Activation, _ message.Ack, _ []message.Event) {
			require.Equal(t, 1, act.Response.StatusCode, "an application error, as InvokerReactive's checkLimits")
			require.JSONEq(t, `{"error":"memory size 1024 MB exceeds allowed threshold of 512 MB"}`, string(act.Response.Result))
			v, _ := act.Annotations.String(annKind)
			require.Equal(t, "unknown", v, "a fallback activation")
			require.Empty(t, h.runner.specs, "nothing ran")
		}},
		{name: "kind the deployment does not offer", setup: func(h *harness) {
			h.inv.opts.Kinds = []string{"nodejs:14", "python:3"}
			h.addAction("2-b", nil) // nodejs:20
		}, check: func(t *testing.T, h *harness, act entity.Activation, _ message.Ack, _ []message.Event) {
			require.Equal(t, 3, act.Response.StatusCode)
			require.JSONEq(t, `{"error":"Action version is not compatible and cannot be invoked."}`, string(act.Response.Result))
			require.Empty(t, h.runner.specs, "nothing ran")
		}},
		{name: "internal run failure", setup: func(h *harness) {
			h.addAction("2-b", nil)
			h.runner.run = func(context.Context, actionrt.Action, json.RawMessage) (actionrt.Result, error) {
				return actionrt.Result{}, errors.New("actionrt: start worker: boom")
			}
		}, check: func(t *testing.T, h *harness, act entity.Activation, ack message.Ack, _ []message.Event) {
			require.Equal(t, 3, act.Response.StatusCode)
			require.True(t, *ack.IsSystemError)
		}},
		{name: "store retried on transient errors", setup: func(h *harness) {
			h.addAction("2-b", nil)
			h.docs.errs = []error{statusErr(503), errors.New("connection reset")}
		}, check: func(t *testing.T, h *harness, _ entity.Activation, _ message.Ack, _ []message.Event) {
			require.Equal(t, 3, h.docs.puts)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.setup != nil {
				tc.setup(h)
			}
			require.NoError(t, h.inv.handle(context.Background(), testMessage("2-b", tc.blocking)))
			act, ack, evs := h.results(t)
			require.Equal(t, "guest/aid0001", act.ID)
			require.Equal(t, "activation", act.EntityType)
			tc.check(t, h, act, ack, evs)
			for _, secret := range []string{testAPIKey, "SECRETKEY", testSecret, testResult} {
				require.NotContains(t, h.logs.String(), secret, "logs leak a secret")
			}
		})
	}
}

func TestHandleCachesRevisions(t *testing.T) {
	h := newHarness(t)
	h.addAction("2-b", nil)
	for range 3 {
		require.NoError(t, h.inv.handle(context.Background(), testMessage("2-b", true)))
	}
	require.Equal(t, 1, h.src.gets)
	require.Equal(t, 1, h.inv.actions.len())
}

func TestHandleStoreFailureStillAcks(t *testing.T) {
	h := newHarness(t)
	h.addAction("2-b", nil)
	h.docs.errs = []error{statusErr(400)}
	require.NoError(t, h.inv.handle(context.Background(), testMessage("2-b", true)))
	require.Len(t, h.pub.on("completed0"), 1)
	require.Equal(t, 1, strings.Count(h.logs.String(), "activation not stored"))
	require.Contains(t, h.logs.String(), "aid0001")
}

func TestHandleAbortedByStop(t *testing.T) {
	h := newHarness(t)
	h.addAction("2-b", nil)
	ctx, cancel := context.WithCancel(context.Background())
	h.runner.run = func(ctx context.Context, _ actionrt.Action, _ json.RawMessage) (actionrt.Result, error) {
		cancel()
		<-ctx.Done()
		return actionrt.Result{}, ctx.Err()
	}
	require.ErrorIs(t, h.inv.handle(ctx, testMessage("2-b", true)), errAborted)
	require.Empty(t, h.pub.sent)
	require.Zero(t, h.docs.puts)
}

func TestHandleWithoutUserEvents(t *testing.T) {
	h := newHarness(t)
	h.inv.opts.UserEvents = false
	h.addAction("2-b", nil)
	require.NoError(t, h.inv.handle(context.Background(), testMessage("2-b", true)))
	require.Empty(t, h.pub.on("events"))
	require.Len(t, h.pub.on("completed0"), 1)
}
