package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type fakeLeadership struct {
	leading bool
	info    LeaderInfo
	err     error
}

func (f fakeLeadership) Leading() bool               { return f.leading }
func (f fakeLeadership) Leader() (LeaderInfo, error) { return f.info, f.err }

// seenRequest is what the fake leader received.
type seenRequest struct {
	method, path, auth, forwardedBy, requestID, body string
}

func fakeLeader(t *testing.T) (*httptest.Server, func() []seenRequest) {
	t.Helper()
	var mu sync.Mutex
	var seen []seenRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, seenRequest{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"),
			r.Header.Get(ForwardedHeader), r.Header.Get("X-Request-ID"), string(b)})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"from":"leader"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seenRequest { mu.Lock(); defer mu.Unlock(); return append([]seenRequest(nil), seen...) }
}

// TestFollowerForwardsWritesToTheLeader: on a replica that does not lead,
// a function write goes to the leader once, credentials, body and request
// id as they came, and the leader's answer comes back; reads, the
// controller set and unauthenticated routes stay on the replica.
func TestFollowerForwardsWritesToTheLeader(t *testing.T) {
	leader, seen := fakeLeader(t)
	api := newTestAPI(t, func(o *Options) {
		o.ReplicaID = "r2"
		o.Leadership = fakeLeadership{info: LeaderInfo{ID: "r1", Admin: leader.URL}}
	})
	srv := httptest.NewServer(api)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/namespaces/guest/functions/pkg%2Fhello/block", strings.NewReader(`{"reason":"x"}`))
	req.Header.Set("Authorization", "Basic Z3Vlc3Q6a2V5")
	req.Header.Set("X-Request-ID", "req-forward-1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.JSONEq(t, `{"from":"leader"}`, string(b))
	require.Equal(t, []seenRequest{{method: "POST", path: "/v1/namespaces/guest/functions/pkg%2Fhello/block",
		auth: "Basic Z3Vlc3Q6a2V5", forwardedBy: "r2", requestID: "req-forward-1", body: `{"reason":"x"}`}}, seen())

	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/v1/namespaces/guest/functions/hello"},
		{http.MethodGet, "/v1/leader"},
		{http.MethodPost, "/v1/controllers"},
	} {
		req, _ := http.NewRequest(r.method, srv.URL+r.path, strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	require.Len(t, seen(), 1, "reads and the controller set are served by the replica itself")
}

func TestForwardRefusals(t *testing.T) {
	leader, seen := fakeLeader(t)
	for _, tc := range []struct {
		name   string
		lead   fakeLeadership
		header string
		status int
	}{
		{"no leader known", fakeLeadership{err: errors.New("none")}, "", http.StatusServiceUnavailable},
		{"already forwarded once: the lead moved", fakeLeadership{info: LeaderInfo{ID: "r1", Admin: leader.URL}}, "r3", http.StatusServiceUnavailable},
		{"the leader does not answer", fakeLeadership{info: LeaderInfo{ID: "r1", Admin: "http://127.0.0.1:1"}}, "", http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newTestAPI(t, func(o *Options) { o.Leadership, o.LeaderWait = tc.lead, 100*time.Millisecond })
			req := httptest.NewRequest(http.MethodPost, "/v1/namespaces/guest/functions/hello/block", strings.NewReader(`{}`))
			req.Header.Set("Authorization", "Bearer "+testToken)
			if tc.header != "" {
				req.Header.Set(ForwardedHeader, tc.header)
			}
			w := httptest.NewRecorder()
			api.ServeHTTP(w, req)
			require.Equal(t, tc.status, w.Code)
			var e struct{ Error, Code string }
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e))
			require.NotEmpty(t, e.Error)
			require.Equal(t, w.Header().Get("X-Request-ID"), e.Code, "OpenWhisk's error shape with the request id")
		})
	}
	require.Empty(t, seen())
}

// changingLeadership has no leader until its lead is set (a lease
// changing hands).
type changingLeadership struct {
	mu      sync.Mutex
	leading bool
	info    *LeaderInfo
	asked   chan struct{} // closed at the first question
	once    sync.Once
}

func (c *changingLeadership) Leading() bool {
	c.once.Do(func() { close(c.asked) })
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leading
}

func (c *changingLeadership) Leader() (LeaderInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.info == nil {
		return LeaderInfo{}, errors.New("no lease holder")
	}
	return *c.info, nil
}

// TestWriteWaitsForALeader: a write made while no replica leads (the lease
// changing hands) waits for the new leader instead of being refused: it
// is carried out here when this replica takes the lead, or forwarded once
// another does; a write forwarded here waits for this replica to lead.
func TestWriteWaitsForALeader(t *testing.T) {
	leader, seen := fakeLeader(t)
	for _, tc := range []struct {
		name      string
		forwarded string
		lead      func(c *changingLeadership)
		want      int
		forwards  int
	}{
		{"this replica takes the lead", "", func(c *changingLeadership) { c.leading, c.info = true, &LeaderInfo{ID: "r2", Admin: "http://r2"} }, http.StatusNotImplemented, 0},
		{"another replica takes the lead", "", func(c *changingLeadership) { c.info = &LeaderInfo{ID: "r1", Admin: leader.URL} }, http.StatusAccepted, 1},
		{"forwarded here, and this replica takes the lead", "r3", func(c *changingLeadership) { c.leading = true }, http.StatusNotImplemented, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(seen())
			lead := &changingLeadership{asked: make(chan struct{})}
			api := newTestAPI(t, func(o *Options) { o.Leadership, o.ReplicaID, o.LeaderWait = lead, "r2", 5*time.Second })
			req := httptest.NewRequest(http.MethodPost, "/v1/namespaces/guest/functions/nope/block", strings.NewReader(`{}`))
			req.Header.Set("Authorization", "Bearer "+testToken)
			if tc.forwarded != "" {
				req.Header.Set(ForwardedHeader, tc.forwarded)
			}
			w := httptest.NewRecorder()
			done := make(chan struct{})
			go func() { defer close(done); api.ServeHTTP(w, req) }()
			<-lead.asked
			select {
			case <-done:
				t.Fatalf("answered %d before any replica led: %s", w.Code, w.Body)
			case <-time.After(3 * leaderPoll):
			}
			lead.mu.Lock()
			tc.lead(lead)
			lead.mu.Unlock()
			<-done
			// Carried out here: this test API has no function service
			// (501), which only this replica's own handler answers;
			// forwarded: the leader's 202. Never the 503 of no leader.
			require.Equal(t, tc.want, w.Code, w.Body.String())
			require.Len(t, seen(), before+tc.forwards)
		})
	}
}

func TestGetLeader(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lead   fakeLeadership
		status int
		body   string
	}{
		{"known", fakeLeadership{info: LeaderInfo{ID: "r1", Admin: "http://r1:3235"}}, http.StatusOK, `{"id":"r1","admin":"http://r1:3235"}`},
		{"none", fakeLeadership{err: errors.New("none")}, http.StatusServiceUnavailable, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newTestAPI(t, func(o *Options) { o.Leadership = tc.lead })
			w := httptest.NewRecorder()
			api.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/leader", nil))
			require.Equal(t, tc.status, w.Code)
			if tc.body != "" {
				require.JSONEq(t, tc.body, w.Body.String())
			}
		})
	}
}
