package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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

	go func() { time.Sleep(50 * time.Millisecond); send("a2", "invoker1") }()
	got, ok = x.InvokerOf(context.Background(), "a2")
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

// TestOptimizerDeployment: the largest size is the smaller of MAX_MEMORY
// and the controller's max_action_memory (plugin/deployment's bounds),
// each named; the throttle is the controller's when the namespace's limits
// are not offered.
func TestOptimizerDeployment(t *testing.T) {
	root := entity.RootInfo{Limits: entity.SystemLimits{MinActionMemory: 128 << 20, MaxActionMemory: 512 << 20,
		ActionsPerMinute: 60, ConcurrentActions: 30}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _ = json.NewEncoder(w).Encode(root) }))
	defer srv.Close()
	for _, tc := range []struct {
		name    string
		maxMem  int
		want    int
		wantSrc string
	}{
		{"the controller's is smaller", 2048, 512, "the controller's max_action_memory (GET /)"},
		{"MAX_MEMORY is smaller", 384, 384, deployment.SourceConfigured},
		{"no pings: the controller's", 0, 512, "the controller's max_action_memory (GET /)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := OptimizerDeployment{Info: deployment.New(deployment.Options{ControllerURL: srv.URL, MaxMemoryMB: tc.maxMem})}
			b, err := d.MemoryBounds(context.Background(), "guest")
			require.NoError(t, err)
			require.Equal(t, optimizer.Bounds{MinMB: 128, MaxMB: tc.want, MinFrom: "the controller's min_action_memory (GET /)", MaxFrom: tc.wantSrc}, b)
			th, err := d.Throttle(context.Background(), "guest")
			require.NoError(t, err)
			require.Equal(t, optimizer.Throttle{PerMinute: 60, Concurrent: 30}, th)
		})
	}
}
