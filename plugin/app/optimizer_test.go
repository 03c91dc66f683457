package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/kafka/message"
	"github.com/fnmgr/fnmgr/optimizer"
	"github.com/fnmgr/fnmgr/plugin/deployment"
)

// TestOptimizerInvokers: the invoker of an activation is learned from its
// user event, waited for a little when it trails, and forgotten past the
// capacity.
func TestOptimizerInvokers(t *testing.T) {
	x := NewOptimizerInvokers(2, 2*time.Second)
	send := func(id, source string) {
		v, err := json.Marshal(message.Event{Source: source, EventType: message.EventActivation, Namespace: "guest",
			Activation: &message.ActivationEvent{Name: "guest/hello", ActivationID: id}})
		require.NoError(t, err)
		require.NoError(t, x.Handle(context.Background(), message.TopicEvents, v))
	}
	send("a1", "invoker0")
	got, ok := x.InvokerOf(context.Background(), "a1")
	require.True(t, ok)
	require.Equal(t, "invoker0", got)

	// The event is sent once the lookup has missed it and waits: the
	// lookup reads its context's Done only then.
	waiting := &doneWatch{Context: context.Background(), waiting: make(chan struct{})}
	go func() { <-waiting.waiting; send("a2", "invoker1") }()
	got, ok = x.InvokerOf(waiting, "a2")
	require.True(t, ok, "an event that trails the answer is waited for")
	require.Equal(t, "invoker1", got)

	send("a3", "invoker0") // x holds two: a1 goes
	x.wait = 10 * time.Millisecond
	_, ok = x.InvokerOf(context.Background(), "a1")
	require.False(t, ok, "forgotten past the capacity")
	_, ok = x.InvokerOf(context.Background(), "a3")
	require.True(t, ok)
	require.NoError(t, x.Handle(context.Background(), message.TopicEvents, []byte("not json")), "malformed events are the analyzer's to report")
}

// doneWatch is a context that says when its Done is first asked for: a
// sign that its user has come to wait.
type doneWatch struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

func (c *doneWatch) Done() <-chan struct{} {
	c.once.Do(func() { close(c.waiting) })
	return c.Context.Done()
}

// TestOptimizerDeployment: the largest size is the smallest of MAX_MEMORY,
// the controller's max_action_memory and the namespace's maxActionMemory,
// each named; the throttle is the namespace's, else the controller's.
func TestOptimizerDeployment(t *testing.T) {
	root := entity.RootInfo{Limits: entity.SystemLimits{MinActionMemory: 128 << 20, MaxActionMemory: 512 << 20,
		ActionsPerMinute: 60, ConcurrentActions: 30}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/namespaces/tight/limits" {
			_, _ = w.Write([]byte(`{"invocationsPerMinute": 20, "concurrentInvocations": 5, "maxActionMemory": 256}`))
			return
		}
		_ = json.NewEncoder(w).Encode(root)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name, ns string
		maxMem   int
		want     int
		wantSrc  string
		wantTh   optimizer.Throttle
	}{
		{"the controller's is smaller", "guest", 2048, 512, "the controller's max_action_memory (GET /)", optimizer.Throttle{PerMinute: 60, Concurrent: 30}},
		{"MAX_MEMORY is smaller", "guest", 384, 384, "MAX_MEMORY (--max-memory, FNMGR_MAX_MEMORY)", optimizer.Throttle{PerMinute: 60, Concurrent: 30}},
		{"no pings: the controller's", "guest", 0, 512, "the controller's max_action_memory (GET /)", optimizer.Throttle{PerMinute: 60, Concurrent: 30}},
		{"the namespace's is smaller", "tight", 2048, 256, "the namespace's maxActionMemory (GET /api/v1/namespaces/tight/limits)", optimizer.Throttle{PerMinute: 20, Concurrent: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := OptimizerDeployment{Info: deployment.New(deployment.Options{ControllerURL: srv.URL, MaxMemoryMB: tc.maxMem,
				Keys: staticKeys("uuid:key")})}
			b, err := d.MemoryBounds(context.Background(), tc.ns)
			require.NoError(t, err)
			require.Equal(t, optimizer.Bounds{MinMB: 128, MaxMB: tc.want, MinFrom: "the controller's min_action_memory (GET /)", MaxFrom: tc.wantSrc}, b)
			th, err := d.Throttle(context.Background(), tc.ns)
			require.NoError(t, err)
			require.Equal(t, tc.wantTh, th)
		})
	}
}

type staticKeys string

func (k staticKeys) KeyFor(context.Context, string) (string, error) { return string(k), nil }
