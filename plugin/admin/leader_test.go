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
			api := newTestAPI(t, func(o *Options) { o.Leadership = tc.lead })
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
