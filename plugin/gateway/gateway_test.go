package gateway

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/httpapi"
)

func TestTransparent(t *testing.T) {
	up := newUpstream(t, "c0", func(w http.ResponseWriter, r *http.Request) {
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
	up := newUpstream(t, "c0", nil)
	router := RouterFunc(func(r *http.Request) Decision {
		switch {
		case strings.HasSuffix(r.URL.Path, "/actions/blocked"):
			return Decision{Status: http.StatusLocked, Message: "The function guest/blocked is BLOCKED."}
		case strings.HasSuffix(r.URL.Path, "/actions/hello@prod"):
			return Decision{Path: "/api/v1/namespaces/guest/actions/hello@2"}
		case strings.HasSuffix(r.URL.Path, "/actions/bad-route"):
			return Decision{Path: "no-slash"}
		}
		return Decision{}
	})
	f := newFixture(t, router, up)
	tests := []struct {
		name, path   string
		want         int
		wantUpstream string // path the controller saw; "" = not reached
	}{
		{"root", "/", 200, "/"},
		{"api info", "/api/v1", 200, "/api/v1"},
		{"api docs", "/api/v1/api-docs", 200, "/api/v1/api-docs"},
		{"web action", "/api/v1/web/guest/default/hello.json", 200, "/api/v1/web/guest/default/hello.json"},
		{"action", "/api/v1/namespaces/guest/actions/hello", 200, "/api/v1/namespaces/guest/actions/hello"},
		{"refused by the router", "/api/v1/namespaces/guest/actions/blocked", 423, ""},
		{"rerouted by the router", "/api/v1/namespaces/guest/actions/hello@prod", 200, "/api/v1/namespaces/guest/actions/hello@2"},
		{"router returns a bad path", "/api/v1/namespaces/guest/actions/bad-route", 500, ""},
		{"not OpenWhisk's", "/metrics", 404, ""},
		{"not OpenWhisk's either", "/apis", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := up.hits.Load()
			resp, err := http.Get(f.srv.URL + tc.path)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, tc.want, resp.StatusCode, string(body))
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
	a, b, c := newUpstream(t, "a", nil), newUpstream(t, "b", nil), newUpstream(t, "c", nil)
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
	require.NoError(t, f.gw.SetControllers([]*url.URL{mustURL(t, c.URL), mustURL(t, a.URL)}))
	require.Len(t, f.gw.Upstreams(), 2)
	require.False(t, f.gw.Upstreams()[0].Healthy())
	f.gw.Upstreams()[0].SetHealthy(true)
	for range 3 {
		require.Equal(t, "c", get())
	}
	require.Equal(t, 0, seriesCount(t, f.reg, "fnmgr_gateway_upstream_errors_total"))
	names := map[string]bool{}
	mfs, err := f.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "fnmgr_gateway_upstream_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			names[m.GetLabel()[0].GetValue()] = true
		}
	}
	require.Equal(t, map[string]bool{mustURL(t, c.URL).Host: true, mustURL(t, a.URL).Host: true}, names,
		"the removed controller's label set is gone")

	require.Error(t, f.gw.SetControllers([]*url.URL{mustURL(t, c.URL), mustURL(t, c.URL)}), "duplicates are refused")
	require.Error(t, f.gw.SetControllers([]*url.URL{mustURL(t, "ftp://x")}))
}

func TestStreaming(t *testing.T) {
	release := make(chan struct{})
	up := newUpstream(t, "c0", func(w http.ResponseWriter, r *http.Request) {
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
	up := newUpstream(t, "c0", nil)
	f := newFixture(t, nil, up)
	up.Close()
	resp, err := http.Get(f.srv.URL + "/api/v1")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	var e entity.Error
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	require.Equal(t, resp.Header.Get(httpapi.RequestIDHeader), e.Code)
	require.Equal(t, 1, seriesCount(t, f.reg, "fnmgr_gateway_upstream_errors_total"))
}

// TestConcurrentSwap runs requests while the controller set changes (run
// with -race).
func TestConcurrentSwap(t *testing.T) {
	a, b := newUpstream(t, "a", nil), newUpstream(t, "b", nil)
	f := newFixture(t, nil, a)
	sets := [][]*url.URL{{mustURL(t, a.URL)}, {mustURL(t, b.URL)}, {mustURL(t, a.URL), mustURL(t, b.URL)}}
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
