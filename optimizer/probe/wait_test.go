package probe

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// stuckController is a controller whose blocking invokes answer 202 and
// whose activations are never recorded (GET answers 404): an activation
// that never completes. pollStatus, when set, answers the polls instead.
func stuckController(t *testing.T, pollStatus int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var polls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/namespaces/guest/actions/", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"activationId":"0f3c9d1b2a7e4c11bc9d1b2a7e4c11bc"}`)
	})
	mux.HandleFunc("/api/v1/namespaces/guest/activations/", func(w http.ResponseWriter, _ *http.Request) {
		polls.Add(1)
		status := http.StatusNotFound
		if pollStatus != 0 {
			status = pollStatus
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"error":"The requested resource does not exist.","code":"x"}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &polls
}

// TestActivationThatNeverCompletes: a 202 is followed by polling the
// activation until the bound (the action's time limit plus the margin),
// then the probe fails naming the activation; it never waits longer.
func TestActivationThatNeverCompletes(t *testing.T) {
	srv, polls := stuckController(t, 0)
	c := NewClient(ClientOptions{APIHost: srv.URL, Keys: keyOf(testKey), PollEvery: 10 * time.Millisecond})
	fa := newFakeActions()
	fa.docs["guest/hello"] = liveAction("guest", "guest", "hello")
	copies, err := NewCopies(context.Background(), fa, "guest", "hello", "r1")
	require.NoError(t, err)
	const limit, margin = 150 * time.Millisecond, 100 * time.Millisecond
	tr := NewTester(TesterOptions{Copies: copies, Invoker: c, Namespace: "guest", Wait: limit + margin,
		WaitWhy: "the action's time limit 150ms plus the margin 100ms", RetryPause: time.Millisecond})
	start := time.Now()
	_, err = tr.Probe(context.Background(), 256, 3)
	took := time.Since(start)
	require.Error(t, err)
	var nc *NotCompletedError
	require.ErrorAs(t, err, &nc)
	require.Equal(t, "0f3c9d1b2a7e4c11bc9d1b2a7e4c11bc", nc.ActivationID)
	require.Contains(t, err.Error(), "activation 0f3c9d1b2a7e4c11bc9d1b2a7e4c11bc of guest/hello@fnmgr-probe-r1-256 did not complete")
	require.Contains(t, err.Error(), "the margin 100ms")
	require.False(t, errors.Is(err, ErrUnavailable), "not retried: a second wait would double the bound")
	require.GreaterOrEqual(t, took, limit+margin, "it waited for the bound")
	require.Less(t, took, limit+margin+2*time.Second, "and not much longer")
	require.Greater(t, polls.Load(), int32(1), "the activation was polled")
	n, _ := tr.Spent()
	require.Equal(t, 1, n, "the first stuck run ends the probe")
}

// TestPollEndsOnAuthErrors: a key revoked while an activation is polled
// ends the wait at once.
func TestPollEndsOnAuthErrors(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		srv, polls := stuckController(t, status)
		c := NewClient(ClientOptions{APIHost: srv.URL, Keys: keyOf(testKey), PollEvery: 5 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Invoke(ctx, "guest", "hello", nil)
		cancel()
		require.ErrorContains(t, err, "HTTP "+itoa(status))
		require.Equal(t, int32(1), polls.Load(), "HTTP %d is not polled again", status)
		require.False(t, errors.Is(err, ErrUnavailable))
	}
}

// TestInvokeErrorsNotRetried: 404, 401 and 403 on the invoke are final;
// a 429 is retried after its Retry-After, counted, and the tester says so.
func TestInvokeErrorsNotRetried(t *testing.T) {
	var calls atomic.Int32
	var status atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/namespaces/guest/actions/", func(w http.ResponseWriter, _ *http.Request) {
		n := calls.Add(1)
		st := int(status.Load())
		if st == http.StatusTooManyRequests && n > 2 {
			_, _ = io.WriteString(w, `{"activationId":"a1","duration":5,"response":{"status":"success","success":true,"result":{}},"annotations":[]}`)
			return
		}
		if st == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(st)
		_, _ = io.WriteString(w, `{"error":"Too many requests in the last minute (count: 61, allowed: 60).","code":"x"}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := NewClient(ClientOptions{APIHost: srv.URL, Keys: keyOf(testKey)})
	fa := newFakeActions()
	fa.docs["guest/hello"] = liveAction("guest", "guest", "hello")
	copies, err := NewCopies(context.Background(), fa, "guest", "hello", "r1")
	require.NoError(t, err)
	for _, st := range []int{http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden} {
		calls.Store(0)
		status.Store(int32(st))
		tr := NewTester(TesterOptions{Copies: copies, Invoker: c, Namespace: "guest", Wait: 5 * time.Second, RetryPause: time.Millisecond})
		_, err := tr.Probe(context.Background(), 256, 1)
		require.ErrorContains(t, err, "HTTP "+itoa(st))
		require.Equal(t, int32(1), calls.Load(), "HTTP %d is not retried", st)
	}
	calls.Store(0)
	status.Store(http.StatusTooManyRequests)
	tr := NewTester(TesterOptions{Copies: copies, Invoker: c, Namespace: "guest", Wait: 5 * time.Second, RetryPause: time.Hour})
	obs, err := tr.Probe(context.Background(), 256, 1)
	require.NoError(t, err, "Retry-After 0 is honoured rather than the hour-long pause")
	require.Len(t, obs, 1)
	n, _ := tr.Throttled()
	require.Equal(t, 2, n)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestRetryAfter reads both forms.
func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{{"7", 7 * time.Second, true}, {"0", 0, true}, {"", 0, false}, {"soon", 0, false}} {
		d, ok := retryAfter(tc.in)
		require.Equal(t, tc.want, d, tc.in)
		require.Equal(t, tc.ok, ok, tc.in)
	}
	d, ok := retryAfter(time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat))
	require.True(t, ok)
	require.InDelta(t, 30, d.Seconds(), 2)
}

// TestPace: at most PerMinute invocations start in a minute; the next
// waits (here until its context ends).
func TestPace(t *testing.T) {
	fa := newFakeActions()
	fa.docs["guest/hello"] = liveAction("guest", "guest", "hello")
	copies, err := NewCopies(context.Background(), fa, "guest", "hello", "r1")
	require.NoError(t, err)
	inv := &fakeInvoker{answer: func(string, int) (Activation, error) { return Activation{Status: "success", DurationMs: 1}, nil }}
	tr := NewTester(TesterOptions{Copies: copies, Invoker: inv, Namespace: "guest", PerMinute: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	obs, err := tr.Probe(ctx, 256, 3)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Len(t, obs, 2)
	require.Len(t, inv.calls, 2, "the third waits for the minute to pass")
}

// TestSharedPacer: two testers of one namespace sharing a Pacer start at
// most its pace together.
func TestSharedPacer(t *testing.T) {
	fa := newFakeActions()
	fa.docs["guest/hello"] = liveAction("guest", "guest", "hello")
	inv := &fakeInvoker{answer: func(string, int) (Activation, error) { return Activation{Status: "success", DurationMs: 1}, nil }}
	p := NewPacer(3)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var got [2]int
	for i := range got {
		copies, err := NewCopies(context.Background(), fa, "guest", "hello", "r"+itoa(i))
		require.NoError(t, err)
		tr := NewTester(TesterOptions{Copies: copies, Invoker: inv, Namespace: "guest", Pacer: p, PerMinute: 100})
		obs, _ := tr.Probe(ctx, 256, 3)
		got[i] = len(obs)
	}
	require.Equal(t, 3, got[0]+got[1], "3 a minute between them, not 3 each (nor PerMinute's 100)")
}

// TestSharedPacerBoundsInvocationsAtOnce: two runs of one namespace, each
// allowed 2 probes at once, keep together to the namespace's bound of 2
// (its share of OpenWhisk's concurrentInvocations), not 2 each.
func TestSharedPacerBoundsInvocationsAtOnce(t *testing.T) {
	fa := newFakeActions()
	fa.docs["guest/hello"] = liveAction("guest", "guest", "hello")
	var mu sync.Mutex
	running, most := 0, 0
	release := make(chan struct{})
	inv := &fakeInvoker{answer: func(string, int) (Activation, error) {
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		<-release
		mu.Lock()
		running--
		mu.Unlock()
		return Activation{Status: "success", DurationMs: 1}, nil
	}}
	p := NewPacer(0)
	p.SetConcurrent(2)
	var wg sync.WaitGroup
	for i := range 2 {
		copies, err := NewCopies(context.Background(), fa, "guest", "hello", "r"+itoa(i))
		require.NoError(t, err)
		tr := NewTester(TesterOptions{Copies: copies, Invoker: inv, Namespace: "guest", Pacer: p, Concurrency: 2})
		for _, mb := range []int{256, 512} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := tr.Probe(context.Background(), mb, 1)
				require.NoError(t, err)
			}()
		}
	}
	// Four probes want to run; two may. Once two run, the others wait on
	// the pacer: let one finish at a time and watch the bound hold.
	waitRunning := func(n int) {
		require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return running == n }, 5*time.Second, time.Millisecond)
	}
	for left := 4; left > 0; left-- {
		waitRunning(min(2, left))
		release <- struct{}{}
	}
	wg.Wait()
	require.Equal(t, 2, most, "at most the namespace's bound at once")
	require.Len(t, inv.calls, 4)
}
