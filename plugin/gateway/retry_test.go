package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/tests/testkit"
)

// counting is a fake controller that counts, by X-Call header, every
// request it read to the end, and then does what its mode says: answer
// 200, or hang up without answering (as a controller that dies after
// reading the request does), or hang up only on the requests whose call
// id is in dropCalls.
type counting struct {
	*httptest.Server
	mu    sync.Mutex
	calls map[string]int
	// hangUp, when set, closes the connection after reading the request.
	hangUp atomic.Bool
	// hangUpCalls closes the connection for these call ids only.
	hangUpCalls map[string]bool
}

func newCounting(t *testing.T, name string) *counting {
	t.Helper()
	c := &counting{calls: map[string]int{}, hangUpCalls: map[string]bool{}}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get("X-Call")
		c.mu.Lock()
		c.calls[id]++
		drop := c.hangUpCalls[id]
		c.mu.Unlock()
		if c.hangUp.Load() || drop {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *counting) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

func (c *counting) dropCall(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hangUpCalls[id] = true
}

// TestRetryOnlyWhenSafe is the retry policy as a table: the first
// controller fails the request in some way; is it sent to the second?
func TestRetryOnlyWhenSafe(t *testing.T) {
	const invoke = "/api/v1/namespaces/guest/actions/hello?blocking=true"
	tests := []struct {
		name, method, path, body string
		hdr                      []string
		// first fails: "refused" (nothing sent) or "hang up" (after
		// reading the request).
		first       string
		maxReplay   int64
		wantStatus  int
		wantSecond  int // requests the second controller saw
		description string
	}{
		{name: "invocation, connection refused: retried", method: "POST", path: invoke, body: `{"n":1}`,
			first: "refused", wantStatus: 200, wantSecond: 1},
		{name: "invocation without body, connection refused: retried", method: "POST", path: invoke,
			first: "refused", wantStatus: 200, wantSecond: 1},
		{name: "web action, connection refused: retried", method: "GET", path: "/api/v1/web/guest/default/hello.json",
			first: "refused", wantStatus: 200, wantSecond: 1},
		{name: "invocation read by the controller: never sent twice", method: "POST", path: invoke, body: `{"n":1}`,
			first: "hang up", wantStatus: 502, wantSecond: 0},
		{name: "invocation without body read by the controller: never sent twice", method: "POST", path: invoke,
			first: "hang up", wantStatus: 502, wantSecond: 0},
		{name: "idempotency key does not make an invocation retryable", method: "POST", path: invoke,
			hdr: []string{"Idempotency-Key", "k1"}, first: "hang up", wantStatus: 502, wantSecond: 0},
		{name: "trigger fire read by the controller: never sent twice", method: "POST", path: "/api/v1/namespaces/guest/triggers/t",
			body: `{}`, first: "hang up", wantStatus: 502, wantSecond: 0},
		{name: "web action GET read by the controller: never sent twice", method: "GET", path: "/api/v1/web/guest/default/hello.json",
			first: "hang up", wantStatus: 502, wantSecond: 0},
		{name: "read of an action after any error: retried", method: "GET", path: "/api/v1/namespaces/guest/actions/hello",
			first: "hang up", wantStatus: 200, wantSecond: 1},
		{name: "root info after any error: retried", method: "GET", path: "/", first: "hang up", wantStatus: 200, wantSecond: 1},
		{name: "action update read by the controller: not retried", method: "PUT", path: "/api/v1/namespaces/guest/actions/hello",
			body: `{"exec":{}}`, first: "hang up", wantStatus: 502, wantSecond: 0},
		{name: "body over the replay limit, refused: not retried", method: "POST", path: invoke, body: strings.Repeat("x", 100),
			maxReplay: 10, first: "refused", wantStatus: 503, wantSecond: 0},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			second := newCounting(t, "second")
			var firstURL string
			var first *counting
			if tc.first == "refused" {
				firstURL = "http://" + testkit.ClosedAddr(t) // refuses connections
			} else {
				first = newCounting(t, "first")
				first.hangUp.Store(true)
				firstURL = first.URL
			}
			// Round robin starts at the first controller of a fresh set.
			f := newFixtureWith(t, func(o *Options) {
				o.Controllers = urls(t, firstURL, second.URL)
				o.HealthInterval = -1
				o.MaxReplayBody = tc.maxReplay
			})
			id := string(rune('a' + i))
			status, body := f.do(t, tc.method, tc.path, tc.body, append([]string{"X-Call", id, "Authorization", "Basic c2VjcmV0OmtleQ=="}, tc.hdr...)...)
			require.Equal(t, tc.wantStatus, status, body)
			require.Equal(t, tc.wantSecond, second.count(id), "requests the second controller saw")
			if first != nil {
				require.Equal(t, 1, first.count(id), "the first controller saw it once")
			}
			if tc.wantStatus == 200 {
				require.Equal(t, "second", body)
				require.Equal(t, 1.0, metricValue(t, f.reg, "fnmgr_gateway_retries_total",
					map[string]string{"controller": testkit.MustURL(t, firstURL).Host}))
			}
			require.NotContains(t, f.logText(), "c2VjcmV0OmtleQ", "credentials never reach the log")
			require.False(t, f.gw.Upstreams()[0].Healthy(), "the failing controller is ejected")
			require.True(t, f.gw.Upstreams()[1].Healthy())
		})
	}
}

// TestNoSilentReplay: http.Transport resends some requests on its own when
// a reused connection fails; for an invocation that would run it twice.
// With a single controller there is nowhere else to go, so any second
// arrival would be such a replay.
func TestNoSilentReplay(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		hdr                      []string
	}{
		{"web action GET", "GET", "/api/v1/web/guest/default/hello.json", "", nil},
		{"web action HEAD", "HEAD", "/api/v1/web/guest/default/hello.json", "", nil},
		{"invocation with idempotency key", "POST", "/api/v1/namespaces/guest/actions/hello", "", []string{"Idempotency-Key", "k"}},
		{"invocation with body", "POST", "/api/v1/namespaces/guest/actions/hello", `{"a":1}`, nil},
		{"invocation without body", "POST", "/api/v1/namespaces/guest/actions/hello", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCounting(t, "only")
			f := newFixtureWith(t, func(o *Options) { o.HealthInterval = -1 }, &fake{Server: c.Server})
			// A first call leaves a keep-alive connection in the pool.
			status, _ := f.do(t, tc.method, tc.path, tc.body, append([]string{"X-Call", "warm"}, tc.hdr...)...)
			require.Equal(t, 200, status)
			c.dropCall("boom")
			status, _ = f.do(t, tc.method, tc.path, tc.body, append([]string{"X-Call", "boom"}, tc.hdr...)...)
			require.Equal(t, http.StatusBadGateway, status)
			require.Equal(t, 1, c.count("boom"), "the controller must see the call once")
		})
	}
}

func urls(t *testing.T, raw ...string) []*url.URL {
	t.Helper()
	var out []*url.URL
	for _, r := range raw {
		out = append(out, testkit.MustURL(t, r))
	}
	return out
}

// TestConflictRetry: a write that loses a race with fnmgr's own annotation
// write gets OpenWhisk's 409 concurrent modification, which changed
// nothing; the gateway sends it again to the same controller, a few times.
// Any other 409, and anything that runs user code, is passed on as it is.
func TestConflictRetry(t *testing.T) {
	const conflict = `{"error":"Concurrent modification to resource detected.","code":"c1"}`
	const exists = `{"error":"resource already exists","code":"c2"}`
	tests := []struct {
		name, method, path, body string
		answer                   string // the 409's body
		conflicts                int    // 409s before a 200
		wantStatus, wantSeen     int
	}{
		{"delete retried", "DELETE", "/api/v1/namespaces/guest/actions/hello", "", conflict, 2, 200, 3},
		{"update retried with its body", "PUT", "/api/v1/namespaces/guest/actions/hello?overwrite=true", `{"exec":{"kind":"nodejs:20","code":"x"}}`, conflict, 1, 200, 2},
		{"delete: at most four retries", "DELETE", "/api/v1/namespaces/guest/actions/hello", "", conflict, 10, 409, 5},
		{"create of an existing action: not retried", "PUT", "/api/v1/namespaces/guest/actions/hello", `{}`, exists, 10, 409, 1},
		{"invocation: never", "POST", "/api/v1/namespaces/guest/actions/hello?blocking=true", `{}`, conflict, 10, 409, 1},
		{"web action: never", "PUT", "/api/v1/web/guest/default/hello.json", `{}`, conflict, 10, 409, 1},
		{"API gateway route: never", "DELETE", "/api/v1/apigw/route", "", conflict, 10, 409, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				seen = append(seen, string(b))
				n := len(seen)
				mu.Unlock()
				if n <= tc.conflicts {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusConflict)
					_, _ = io.WriteString(w, tc.answer)
					return
				}
				_, _ = io.WriteString(w, "done")
			}))
			t.Cleanup(srv.Close)
			f := newFixtureWith(t, func(o *Options) { o.HealthInterval = -1 }, &fake{Server: srv})
			status, body := f.do(t, tc.method, tc.path, tc.body, "Authorization", "Basic c2VjcmV0OmtleQ==")
			require.Equal(t, tc.wantStatus, status, body)
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, seen, tc.wantSeen, "requests the controller saw")
			for _, b := range seen {
				require.Equal(t, tc.body, b, "every try carries the body")
			}
			if status == http.StatusConflict {
				require.JSONEq(t, tc.answer, body, "the controller's answer, whole")
			} else {
				require.Equal(t, "done", body)
			}
			require.Equal(t, float64(tc.wantSeen-1), metricValue(t, f.reg, "fnmgr_gateway_conflict_retries_total",
				map[string]string{"controller": testkit.MustURL(t, srv.URL).Host}))
		})
	}
}
