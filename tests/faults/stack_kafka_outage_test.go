package faults

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/tests/stackenv"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

// TestStackKafkaOutage stops the stack's Kafka broker for a random while
// and starts it again, as a broker restart in a real deployment: the
// broker keeps its data (topics and their ids, records, groups and their
// offsets) and every client reconnects by itself. Each time, fnmgr's
// /readyz says it is not ready because of Kafka while the broker is away,
// and ready again once its listeners rejoined; then the stack's own
// controller and invoker, which keep their Kafka clients through the
// outage, run a blocking invocation, and the invoker's user event for it
// reaches fnmgr's events listener.
//
// It runs last in this package (go test runs files in name order): if
// the stack did not survive the outage, the tests after it would run
// against a broken stack.
func TestStackKafkaOutage(t *testing.T) {
	e := stackenv.Need(t, env)
	rng := rng(t)
	c := e.Wsk(t, e.EP.APIHost, e.EP.Auth)
	stackenv.CreateAction(t, c, "kafkaprobe", "nodejs:default", "function main(){ return {ok: true} }", false)
	e.WaitReady(t, 30*time.Second)
	invokeAndCount(t, e, "before any outage")
	for run := range count(3) {
		e.Stack.StopBroker()
		require.Eventually(t, func() bool {
			status, body := e.Ready()
			return status == http.StatusServiceUnavailable && strings.Contains(body, "kafka")
		}, 30*time.Second, 20*time.Millisecond, "run %d: /readyz tells the Kafka outage", run)
		testkit.Pause(t.Context(), time.Duration(rng.IntN(2000))*time.Millisecond) // the outage's length, drawn
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, e.Stack.StartBroker(ctx))
		cancel()
		back := time.Now()
		e.WaitReady(t, 30*time.Second)
		t.Logf("run %d: ready %s after the broker came back", run, time.Since(back).Round(time.Millisecond))
		invokeAndCount(t, e, fmt.Sprintf("run %d", run))
		t.Logf("run %d: invoked and counted %s after the broker came back", run, time.Since(back).Round(time.Millisecond))
		runs.Add(1)
	}
}

// invokeAndCount invokes kafkaprobe, blocking, on the stack's controller
// until it answers its result (the controller produced the activation and
// the invoker consumed and ran it), then waits until fnmgr counted the
// invoker's user event for it.
func invokeAndCount(t *testing.T, e *stackenv.Env, when string) {
	t.Helper()
	before := e.Metric(t, "fnmgr_events_activations_total")
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status, body, err := invokeBlocking(e)
		require.NoError(c, err)
		require.Equal(c, http.StatusOK, status, body)
		require.JSONEq(c, `{"ok":true}`, body)
	}, 60*time.Second, 200*time.Millisecond, "%s: the stack's controller and invoker run a blocking invocation (see stack.log)", when)
	require.Eventually(t, func() bool { return e.Metric(t, "fnmgr_events_activations_total") > before },
		30*time.Second, 50*time.Millisecond, "%s: the invoker's user event reaches fnmgr", when)
}

// invokeBlocking invokes kafkaprobe and waits up to 10 s for its result.
func invokeBlocking(e *stackenv.Env) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		e.EP.APIHost+"/api/v1/namespaces/_/actions/kafkaprobe?blocking=true&result=true&timeout=10000", nil)
	if err != nil {
		return 0, "", err
	}
	stackenv.SetAuth(req, e.EP.Auth, e.EP.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
