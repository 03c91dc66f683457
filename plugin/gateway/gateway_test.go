package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/httpapi"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

func TestTransparent(t *testing.T) {
	up := newFake(t, "c0", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Openwhisk-Activation-Id", "0123456789abcdef0123456789abcdef")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, `{"activationId":"x","response":{"success":false}}`)
	})
	f := newFixture(t, nil, up)
	const auth = "Basic MjNiYzQ2YjEtNzFmNi00ZWQ1LThjNTQtODE2YWE0ZjhjNTAyOjEyM3pPM3haQ0xyTU42djJCS0sxZFhZRnBYbFBrY2NPRnFtMTJDZEFzTWdSVTRWck5aOWx5R1ZDR3VNREdJd1A="
	req, err := http.NewRequest("POST", f.srv.URL+"/api/v1/namespaces/_/actions/demo%2Fhello?blocking=true&result=false", strings.NewReader(`{"name":"x"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(httpapi.RequestIDHeader, "req-1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)

	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	require.JSONEq(t, `{"activationId":"x","response":{"success":false}}`, string(body))
	require.Equal(t, "0123456789abcdef0123456789abcdef", resp.Header.Get("X-Openwhisk-Activation-Id"))
	require.Equal(t, []string{"a", "b"}, resp.Header.Values("X-Multi"))
	require.Equal(t, []string{"req-1"}, resp.Header.Values(httpapi.RequestIDHeader))

	s := up.lastSeen()
	require.Equal(t, "POST", s.method)
	require.Equal(t, "/api/v1/namespaces/_/actions/demo%2Fhello?blocking=true&result=false", s.uri, "path encoding and query kept")
	require.Equal(t, auth, s.auth, "Authorization passes untouched")
	require.Equal(t, "req-1", s.requestID)
	require.Equal(t, "127.0.0.1", s.forwardedFor)
	require.Equal(t, `{"name":"x"}`, s.body)

	require.NotContains(t, f.logText(), strings.TrimPrefix(auth, "Basic "))
	require.NotContains(t, strings.ToLower(f.logText()), "authorization")
}

func TestRoutesAndRefusals(t *testing.T) {
	up := newFake(t, "c0", nil)
	router := RouterFunc(func(r *http.Request) Decision {
		switch {
		case strings.HasSuffix(r.URL.Path, "/actions/blocked"):
			return Decision{Status: http.StatusLocked, Message: "The function guest/blocked is BLOCKED."}
		case strings.HasSuffix(r.URL.Path, "/actions/hello@prod"):
			return Decision{Path: "/api/v1/namespaces/guest/actions/hello@2"}
		case strings.HasSuffix(r.URL.Path, "/actions/bad-route"):
			return Decision{Path: "no-slash"}
		case strings.HasSuffix(r.URL.Path, "/actions/unchecked"):
			return Decision{Status: http.StatusServiceUnavailable, Message: "The caller could not be checked.", RetryAfter: 2}
		}
		return Decision{}
	})
	f := newFixture(t, router, up)
	tests := []struct {
		name, path     string
		want           int
		wantUpstream   string // path the controller saw; "" = not reached
		wantRetryAfter string
	}{
		{"root", "/", 200, "/", ""},
		{"api info", "/api/v1", 200, "/api/v1", ""},
		{"api docs", "/api/v1/api-docs", 200, "/api/v1/api-docs", ""},
		{"web action", "/api/v1/web/guest/default/hello.json", 200, "/api/v1/web/guest/default/hello.json", ""},
		{"action", "/api/v1/namespaces/guest/actions/hello", 200, "/api/v1/namespaces/guest/actions/hello", ""},
		{"refused by the router", "/api/v1/namespaces/guest/actions/blocked", 423, "", ""},
		{"rerouted by the router", "/api/v1/namespaces/guest/actions/hello@prod", 200, "/api/v1/namespaces/guest/actions/hello@2", ""},
		{"router returns a bad path", "/api/v1/namespaces/guest/actions/bad-route", 500, "", ""},
		{"refused until the caller is checked", "/api/v1/namespaces/guest/actions/unchecked", 503, "", "2"},
		{"not OpenWhisk's", "/metrics", 404, "", ""},
		{"not OpenWhisk's either", "/apis", 404, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := up.hits.Load()
			resp, err := http.Get(f.srv.URL + tc.path)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, tc.want, resp.StatusCode, string(body))
			require.Equal(t, tc.wantRetryAfter, resp.Header.Get("Retry-After"))
			if tc.wantUpstream == "" {
				require.Equal(t, before, up.hits.Load(), "the controller must not be reached")
				var e entity.Error
				require.NoError(t, json.Unmarshal(body, &e))
				require.Equal(t, resp.Header.Get(httpapi.RequestIDHeader), e.Code)
				require.NotEmpty(t, e.Error)
				return
			}
			require.Equal(t, tc.wantUpstream, up.lastSeen().path)
		})
	}
}

func TestRoundRobinAndSwap(t *testing.T) {
	a, b, c := newFake(t, "a", nil), newFake(t, "b", nil), newFake(t, "c", nil)
	f := newFixture(t, nil, a, b, c)
	get := func() string {
		resp, err := http.Get(f.srv.URL + "/api/v1")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	counts := map[string]int{}
	for range 9 {
		counts[get()]++
	}
	require.Equal(t, map[string]int{"a": 3, "b": 3, "c": 3}, counts)

	// Unhealthy controllers get nothing while others are healthy.
	f.gw.Upstreams()[0].SetHealthy(false)
	for range 4 {
		require.NotEqual(t, "a", get())
	}
	for _, u := range f.gw.Upstreams() {
		u.SetHealthy(false)
	}
	resp, err := http.Get(f.srv.URL + "/api/v1")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)

	// Swap: only c; a controller that stays keeps its (unhealthy) state.
	require.NoError(t, f.gw.SetControllers([]*url.URL{testkit.MustURL(t, c.URL), testkit.MustURL(t, a.URL)}))
	require.Len(t, f.gw.Upstreams(), 2)
	require.False(t, f.gw.Upstreams()[0].Healthy())
	f.gw.Upstreams()[0].SetHealthy(true)
	for range 3 {
		require.Equal(t, "c", get())
	}
	require.Equal(t, map[string]bool{testkit.MustURL(t, c.URL).Host: true, testkit.MustURL(t, a.URL).Host: true}, controllerLabels(t, f.reg),
		"the removed controller's series are gone")
	require.Zero(t, metricValue(t, f.reg, "fnmgr_gateway_upstream_errors_total", map[string]string{"controller": testkit.MustURL(t, a.URL).Host}))

	require.Error(t, f.gw.SetControllers([]*url.URL{testkit.MustURL(t, c.URL), testkit.MustURL(t, c.URL)}), "duplicates are refused")
	require.Error(t, f.gw.SetControllers([]*url.URL{testkit.MustURL(t, "ftp://x")}))
}

func TestStreaming(t *testing.T) {
	release := make(chan struct{})
	up := newFake(t, "c0", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		_, _ = io.WriteString(w, "second\n")
	})
	f := newFixture(t, nil, up)
	resp, err := http.Get(f.srv.URL + "/api/v1/web/guest/default/stream.http")
	require.NoError(t, err)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "first\n", line, "the first chunk arrives before the upstream finishes")
	close(release)
	rest, err := io.ReadAll(br)
	require.NoError(t, err)
	require.Equal(t, "second\n", string(rest))
}

func TestControllerDown(t *testing.T) {
	up := newFake(t, "c0", nil)
	f := newFixture(t, nil, up)
	up.Close()
	resp, err := http.Get(f.srv.URL + "/api/v1")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "nothing was sent: the only controller refused the connection")
	var e entity.Error
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	require.Equal(t, resp.Header.Get(httpapi.RequestIDHeader), e.Code)
	require.Contains(t, e.Error, "No OpenWhisk controller is available")
	host := testkit.MustURL(t, up.URL).Host
	require.Equal(t, 1.0, metricValue(t, f.reg, "fnmgr_gateway_upstream_errors_total", map[string]string{"controller": host}))
	require.Equal(t, 0.0, metricValue(t, f.reg, "fnmgr_gateway_controller_healthy", map[string]string{"controller": host}))
	require.Equal(t, 1.0, metricValue(t, f.reg, "fnmgr_gateway_ejections_total", map[string]string{"controller": host, "reason": ReasonConnectionError}))
}

// TestConcurrentSwap runs requests while the controller set changes (run
// with -race).
func TestConcurrentSwap(t *testing.T) {
	a, b := newFake(t, "a", nil), newFake(t, "b", nil)
	f := newFixture(t, nil, a)
	sets := [][]*url.URL{{testkit.MustURL(t, a.URL)}, {testkit.MustURL(t, b.URL)}, {testkit.MustURL(t, a.URL), testkit.MustURL(t, b.URL)}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			if err := f.gw.SetControllers(sets[i%len(sets)]); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				resp, err := http.Get(f.srv.URL + "/api/v1")
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	<-done
}

// TestBodies: bodies reach the controller whole, replayable or streamed,
// and the controller's own size limit (OpenWhisk's 1 MB payload) answers.
func TestBodies(t *testing.T) {
	const limit = 1 << 20
	ctrl := newFake(t, "c0", func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = io.WriteString(w, `{"error":"The request content was malformed:\nrequest entity too large"}`)
			return
		}
		b, _ := io.ReadAll(r.Body)
		_, _ = fmt.Fprintf(w, "%d %d %s", r.ContentLength, len(b), r.Header.Get(httpapi.RequestIDHeader))
	})
	f := newFixture(t, nil, ctrl)
	big := strings.Repeat("x", 2*limit)
	tests := []struct {
		name    string
		body    io.Reader
		length  int64 // -1: chunked
		want    int
		wantLen int
	}{
		{"small, with length", strings.NewReader(`{"a":1}`), 7, 200, 7},
		{"small, chunked", io.MultiReader(strings.NewReader(`{"a":`), strings.NewReader(`1}`)), -1, 200, 7},
		{"empty", nil, 0, 200, 0},
		{"over the limit, with length: the controller's 413", strings.NewReader(big), int64(len(big)), 413, 0},
		{"over the limit, chunked: streamed", io.MultiReader(strings.NewReader(big)), -1, 200, len(big)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", f.srv.URL+"/api/v1/namespaces/guest/actions/x", tc.body)
			require.NoError(t, err)
			req.ContentLength = tc.length
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tc.want, resp.StatusCode, string(b))
			if tc.want != 200 {
				require.Contains(t, string(b), "too large")
				return
			}
			var cl, n int
			var rid string
			_, err = fmt.Sscanf(string(b), "%d %d %s", &cl, &n, &rid)
			require.NoError(t, err, string(b))
			require.Equal(t, tc.wantLen, n)
			require.Equal(t, resp.Header.Get(httpapi.RequestIDHeader), rid, "a request id is added and sent on")
		})
	}
}

// TestBasePath: a controller behind a path prefix gets it on every call
// and on its health check.
func TestBasePath(t *testing.T) {
	ctrl := newFake(t, "c0", nil)
	f := newFixtureWith(t, func(o *Options) {
		o.Controllers = urls(t, ctrl.URL+"/ow/")
		o.HealthInterval = time.Hour
	})
	status, _ := f.do(t, "GET", "/api/v1/namespaces/guest/actions/demo%2Fhello?x=1", "")
	require.Equal(t, 200, status)
	require.Equal(t, "/ow/api/v1/namespaces/guest/actions/demo%2Fhello?x=1", ctrl.lastSeen().uri)
	require.NoError(t, f.gw.Start(context.Background()))
	require.Eventually(t, func() bool { return ctrl.lastSeen().uri == "/ow/" }, 5*time.Second, tick)
	require.Equal(t, testkit.MustURL(t, ctrl.URL).Host+"/ow", f.gw.Controllers()[0].Name)
}
