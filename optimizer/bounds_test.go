package optimizer_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/optimizer"
	"github.com/fnmgr/fnmgr/optimizer/probe"
	"github.com/fnmgr/fnmgr/optimizer/report"
	"github.com/fnmgr/fnmgr/optimizer/sim"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

type staticKey string

func (k staticKey) KeyFor(context.Context, string) (string, error) { return string(k), nil }

// TestProbeWaitIsBounded: against a controller whose activations never
// complete (202, then 404 forever), the run fails within the action's time
// limit plus the margin, naming the activation.
func TestProbeWaitIsBounded(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/namespaces/guest/actions/", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"activationId":"5e1f0c0ffee04d2a9f0c0ffee04d2a9f"}`)
	})
	mux.HandleFunc("/api/v1/namespaces/guest/activations/", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	const margin = 300 * time.Millisecond
	x := newFixture(t, flat(), func(o *optimizer.Options) {
		o.Invoker = probe.NewClient(probe.ClientOptions{APIHost: srv.URL, Keys: staticKey("u:k"), PollEvery: 20 * time.Millisecond})
		o.ProbeMargin = margin
	})
	x.function("stuck", 256, optimizer.StateLatest)
	a, err := x.acts.Get(x.ctx, "guest/stuck")
	require.NoError(t, err)
	a.Limits.Timeout = 200 // ms
	_, err = x.acts.Put(x.ctx, a, nil)
	require.NoError(t, err)
	start := time.Now()
	id, err := x.svc.Start(x.ctx, "guest", "stuck", optimizer.Request{}, "")
	require.NoError(t, err)
	r := x.wait(x.svc, "stuck", id)
	took := time.Since(start)
	require.Equal(t, optimizer.Failed, r.Status)
	require.Contains(t, r.Error, "activation 5e1f0c0ffee04d2a9f0c0ffee04d2a9f")
	require.Contains(t, r.Error, "did not complete")
	require.Contains(t, r.Error, "time limit 200ms plus the margin 300ms")
	require.Less(t, took, 5*time.Second, "one bound (500 ms) per probe at once, not forever")
	require.Empty(t, x.acts.copies())
}

// TestDeploymentBounds: on a 512 MB deployment no probe runs above 512 MB
// and nothing larger is recommended or applied, even for an action that
// wants more.
func TestDeploymentBounds(t *testing.T) {
	var f sim.Function
	for _, s := range sim.Suite() {
		if s.Name == "cpu-bound" {
			f = s
			break
		}
	}
	require.NotEmpty(t, f.Name)
	x := newFixture(t, f, func(o *optimizer.Options) { o.Deployment = deployment{max: 512} })
	x.function("cpu", 256, optimizer.StateLatest)
	id, err := x.svc.Start(x.ctx, "guest", "cpu", optimizer.Request{Objective: "min-resources", Apply: true}, "")
	require.NoError(t, err)
	r := x.wait(x.svc, "cpu", id)
	require.Equal(t, optimizer.Succeeded, r.Status, r.Error)
	require.LessOrEqual(t, r.Report.Candidates[len(r.Report.Candidates)-1], 512)
	for _, p := range r.Report.Active.Points {
		require.LessOrEqual(t, p.MemoryMB, 512, "probed %d MB", p.MemoryMB)
	}
	require.LessOrEqual(t, r.Report.Recommendation.MemoryMB, 512)
	for _, a := range x.conf.applied() {
		require.LessOrEqual(t, a.Setting.MemoryMB, 512)
	}
	_, err = x.svc.Start(x.ctx, "guest", "cpu", optimizer.Request{MemoryCandidates: []int{576}}, "")
	require.ErrorIs(t, err, optimizer.ErrInvalid)
	require.Contains(t, err.Error(), "512 MB (MAX_MEMORY)", "the bound and where it comes from")
}

// concurrencyInvoker counts invocations running at once, and refuses the
// first ones with 429.
type concurrencyInvoker struct {
	mu          sync.Mutex
	now, most   int
	refuse      int
	retryAfter  time.Duration
	invocations int
}

func (c *concurrencyInvoker) Invoke(ctx context.Context, _, _ string, _ json.RawMessage) (probe.Activation, error) {
	c.mu.Lock()
	c.now++
	c.most = max(c.most, c.now)
	c.invocations++
	refuse := c.invocations <= c.refuse
	c.mu.Unlock()
	testkit.Pause(ctx, 2*time.Millisecond) // the activation runs a while: probes at once overlap
	c.mu.Lock()
	c.now--
	c.mu.Unlock()
	if refuse {
		return probe.Activation{}, &probe.ThrottledError{RetryAfter: c.retryAfter, HasRetryAfter: true, Msg: "Too many concurrent requests in flight (count: 3, allowed: 2)."}
	}
	return probe.Activation{ID: "a", Status: "success", DurationMs: 100}, nil
}

// TestThrottleShare: probes keep to the share of the namespace's throttle
// (half of 2 concurrent: one at a time) and a 429 is backed off (its
// Retry-After honoured) and said in the report.
func TestThrottleShare(t *testing.T) {
	inv := &concurrencyInvoker{refuse: 2, retryAfter: 10 * time.Millisecond}
	x := newFixture(t, flat(), func(o *optimizer.Options) {
		o.Invoker = inv
		o.Concurrency = 4
		o.Deployment = deployment{max: 1024, throttle: optimizer.Throttle{PerMinute: 600, Concurrent: 2}}
	})
	x.function("sleepy", 512, optimizer.StateLatest)
	id, err := x.svc.Start(x.ctx, "guest", "sleepy", optimizer.Request{}, "")
	require.NoError(t, err)
	r := x.wait(x.svc, "sleepy", id)
	require.Equal(t, optimizer.Succeeded, r.Status, r.Error)
	inv.mu.Lock()
	most := inv.most
	inv.mu.Unlock()
	require.Equal(t, 1, most, "half of 2 concurrent invocations")
	w := strings.Join(r.Report.Warnings, "\n")
	require.Contains(t, w, "refused 2 probe invocation(s) with 429")
	require.Contains(t, w, "backed off 20ms")
	require.Contains(t, w, "300 a minute and 1 at once")
	require.Equal(t, &report.Throttle{NamespacePerMinute: 600, NamespaceConcurrent: 2, Share: 0.5, PerMinute: 300, Concurrent: 1,
		Refusals: 2, BackoffMs: 20}, r.Report.Throttle, "--json keeps the numbers")
}
