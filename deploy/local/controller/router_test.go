package controller

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/kafka/message"
	"github.com/fnmgr/fnmgr/tests/contract"
)

// bareController is a Controller without services: enough for routes that
// touch neither CouchDB nor Kafka.
func bareController(t *testing.T) *Controller {
	t.Helper()
	o, err := Options{CouchURL: "http://127.0.0.1:1", Brokers: []string{"127.0.0.1:1"}}.withDefaults()
	require.NoError(t, err)
	rt, err := newRuntimes(o.Runtimes)
	require.NoError(t, err)
	return &Controller{opts: o, log: slog.New(slog.DiscardHandler), instance: "controller0", runtimes: rt,
		cache: newEntityCache(EntityCacheTTL), waiters: newWaiters(), inflight: newInflight()}
}

func serve(c *Controller, method, target string, header http.Header) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	c.ServeHTTP(rec, req)
	return rec
}

func TestRoutesWithoutServices(t *testing.T) {
	c := bareController(t)
	cases := []struct {
		name, method, target string
		header               http.Header
		status               int
		errText              string
	}{
		{"root", "GET", "/", nil, 200, ""},
		{"api info", "GET", "/api/v1", nil, 200, ""},
		{"api docs", "GET", "/api/v1/api-docs", nil, 200, ""},
		{"ping", "GET", "/ping", nil, 200, ""},
		{"unknown", "GET", "/nowhere", nil, 404, msgNoRouteFound},
		{"root method", "POST", "/", nil, 405, "HTTP method not allowed, supported methods: GET"},
		{"no credentials", "GET", "/api/v1/namespaces", nil, 401, msgAuthMissing},
		{"not basic", "GET", "/api/v1/namespaces/_/actions", http.Header{"Authorization": {"Bearer x"}}, 401, msgAuthRejected},
		{"web route too short", "GET", "/api/v1/web/guest/default", nil, 404, msgNoRouteFound},
		{"web bad namespace", "GET", "/api/v1/web/@x/default/a", nil, 404, msgNoRouteFound},
	}
	for _, c2 := range cases {
		t.Run(c2.name, func(t *testing.T) {
			rec := serve(c, c2.method, c2.target, c2.header)
			require.Equal(t, c2.status, rec.Code, rec.Body.String())
			tid := rec.Header().Get("X-Request-ID")
			require.Len(t, tid, 32)
			if c2.errText == "" {
				return
			}
			var e entity.Error
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
			require.Equal(t, c2.errText, e.Error)
			require.Equal(t, tid, e.Code)
		})
	}
}

func TestRequestIDIsKept(t *testing.T) {
	c := bareController(t)
	rec := serve(c, "GET", "/nowhere", http.Header{"X-Request-Id": {"my-request-1"}})
	require.Equal(t, "my-request-1", rec.Header().Get("X-Request-ID"))
	var e entity.Error
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
	require.Equal(t, "my-request-1", e.Code)
}

func TestRootInfoMatchesContract(t *testing.T) {
	c := bareController(t)
	rec := serve(c, "GET", "/", nil)
	var got, want map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	raw, err := os.ReadFile(filepath.Join(contract.Dir(t), "rest-root-info.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &want))
	for _, k := range []string{"description", "support", "api_paths", "limits"} {
		require.Empty(t, contract.Equal(want[k], got[k]), k)
	}
	var rts map[string][]entity.RuntimeInfo
	require.NoError(t, json.Unmarshal(got["runtimes"], &rts))
	require.Equal(t, "nodejs:20", rts["nodejs"][0].Kind)
	require.Equal(t, "python:3", rts["python"][0].Kind)

	rec = serve(c, "GET", "/api/v1", nil)
	raw, err = os.ReadFile(filepath.Join(contract.Dir(t), "rest-api-v1-info.json"))
	require.NoError(t, err)
	var info map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &info))
	var wantInfo map[string]any
	require.NoError(t, json.Unmarshal(raw, &wantInfo))
	for k := range wantInfo {
		require.Contains(t, info, k)
	}
	require.NotContains(t, info, "limits")

	rec = serve(c, "GET", "/api/v1/api-docs", nil)
	swagger, err := os.ReadFile(filepath.Join(contract.Dir(t), "apiv1swagger.json"))
	require.NoError(t, err)
	require.Equal(t, swagger, rec.Body.Bytes())
}

func TestAsAPIError(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		msg    string
	}{
		{"api error", badRequest("x"), 400, "x"},
		{"wrapped not found", fmt.Errorf("a: %w", errDocNotFound), 404, msgNotFound},
		{"conflict", fmt.Errorf("a: %w", errDocConflict), 409, msgConflict},
		{"wrong type", fmt.Errorf("a: %w", errWrongType), 409, msgConformance},
		{"anything else", errors.New("boom"), 500, msgInternal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ae := asAPIError(c.err)
			require.Equal(t, c.status, ae.status)
			require.Equal(t, c.msg, ae.msg)
		})
	}
}

func TestReadBody(t *testing.T) {
	cases := []struct {
		name, ct, body string
		status         int
		want           string
	}{
		{"json", "application/json", `{"a":1}`, 0, `{"a":1}`},
		{"json with charset", "application/json; charset=utf-8", `{}`, 0, `{}`},
		{"empty", "", ``, 0, ``},
		{"not json type", "text/plain", `{}`, 415, ""},
		{"invalid json", "application/json", `{`, 400, ""},
		{"too large", "application/json", `{"a":"0123456789"}`, 413, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
			if c.ct != "" {
				req.Header.Set("Content-Type", c.ct)
			}
			b, err := readBody(req, 16, "Request")
			if c.status != 0 {
				require.Equal(t, c.status, asAPIError(err).status)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, string(b))
		})
	}
}

func TestQueryParams(t *testing.T) {
	c := bareController(t)
	boolCases := []struct {
		q      string
		want   bool
		errMsg string
	}{
		{"", false, ""},
		{"x=true", true, ""},
		{"x=yes", true, ""},
		{"x=0", false, ""},
		{"x=maybe", false, "The query parameter 'x' was malformed:\n'maybe' is not a valid Boolean value"},
	}
	for _, bc := range boolCases {
		t.Run("bool "+bc.q, func(t *testing.T) {
			got, err := queryBool(httptest.NewRequest("GET", "/?"+bc.q, nil), "x", false)
			if bc.errMsg != "" {
				require.Equal(t, bc.errMsg, asAPIError(err).msg)
				return
			}
			require.NoError(t, err)
			require.Equal(t, bc.want, got)
		})
	}
	listCases := []struct {
		q           string
		limit, skip int
		errMsg      string
	}{
		{"", 30, 0, ""},
		{"limit=0", 200, 0, ""},
		{"limit=200&skip=5", 200, 5, ""},
		{"limit=x", 0, 0, "The query parameter 'limit' was malformed:\nThe value 'x' is not an integer for actions."},
		{"skip=-1", 0, 0, "The query parameter 'skip' was malformed:\nThe value '-1' is not greater than or equal to 0 for actions."},
	}
	for _, lc := range listCases {
		t.Run("list "+lc.q, func(t *testing.T) {
			p, err := parseList(httptest.NewRequest("GET", "/?"+lc.q, nil), "actions")
			if lc.errMsg != "" {
				require.Equal(t, lc.errMsg, asAPIError(err).msg)
				return
			}
			require.NoError(t, err)
			require.Equal(t, lc.limit, p.limit)
			require.Equal(t, lc.skip, p.skip)
		})
	}
	timeoutCases := []struct {
		q    string
		want time.Duration
		bad  bool
	}{
		{"", time.Minute, false},
		{"timeout=500", 500 * time.Millisecond, false},
		{"timeout=60000", time.Minute, false},
		{"timeout=0", 0, true},
		{"timeout=60001", 0, true},
	}
	for _, tc := range timeoutCases {
		t.Run("timeout "+tc.q, func(t *testing.T) {
			d, err := c.parseTimeout(httptest.NewRequest("POST", "/?"+tc.q, nil))
			if tc.bad {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, d)
		})
	}
}

func TestObjectToKV(t *testing.T) {
	cases := []struct {
		in, out string
		bad     bool
	}{
		{``, `{}`, false},
		{`null`, `{}`, false},
		{`{"b":1,"a":{"x":[1]},"b":2}`, `{"b":2,"a":{"x":[1]}}`, false},
		{`[1]`, ``, true},
		{`"s"`, ``, true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			kv, err := objectToKV(json.RawMessage(c.in))
			if c.bad {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.out, string(kv.Object()))
		})
	}
}

func TestHandleAckAndInvalidation(t *testing.T) {
	c := bareController(t)
	act := entity.Activation{ActivationID: "a1", Response: entity.ActivationResponse{StatusCode: 0}}
	cases := []struct {
		name    string
		ack     message.Ack
		wakes   bool
		hasDoc  bool
		freeing bool
	}{
		{"combined full", message.Ack{Response: &message.AckResponse{ActivationID: "a1", Activation: &act}, Instance: &message.InvokerInstance{}}, true, true, true},
		{"combined shrunk", message.Ack{Response: &message.AckResponse{ActivationID: "a1"}, Instance: &message.InvokerInstance{}}, true, false, true},
		{"result", message.Ack{Response: &message.AckResponse{ActivationID: "a1", Activation: &act}}, true, true, false},
		{"completion", message.Ack{ActivationID: "a1", Instance: &message.InvokerInstance{}}, false, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch := c.waiters.add("a1")
			c.inflight.add("a1", "guest", time.Minute)
			b, err := json.Marshal(tc.ack)
			require.NoError(t, err)
			c.handleAck(b)
			select {
			case res := <-ch:
				require.True(t, tc.wakes)
				require.Equal(t, tc.hasDoc, res.activation != nil)
			default:
				require.False(t, tc.wakes)
				c.waiters.remove("a1")
			}
			c.inflight.mu.Lock()
			_, still := c.inflight.byID["a1"]
			c.inflight.mu.Unlock()
			require.Equal(t, !tc.freeing, still)
			c.inflight.done("a1")
		})
	}
	t.Run("invalidation from others only", func(t *testing.T) {
		c.cache.put("guest/a", []byte(`{}`), c.cache.generation())
		c.handleInvalidation([]byte(`{"key":{"mainId":"guest/a"},"instanceId":"controller0"}`))
		_, ok := c.cache.get("guest/a")
		require.True(t, ok, "its own message is ignored")
		c.handleInvalidation([]byte(`{"key":{"mainId":"guest/a"},"instanceId":"cache-invalidator"}`))
		_, ok = c.cache.get("guest/a")
		require.False(t, ok)
		c.handleInvalidation([]byte(`not json`))
	})
}

func TestEntityCache(t *testing.T) {
	now := time.Unix(0, 0)
	c := newEntityCache(5 * time.Minute)
	c.now = func() time.Time { return now }
	c.put("a", []byte("1"), c.generation())
	now = now.Add(4 * time.Minute)
	_, ok := c.get("a")
	require.True(t, ok)
	now = now.Add(4 * time.Minute)
	_, ok = c.get("a")
	require.True(t, ok, "expiry counts from the last access")
	now = now.Add(6 * time.Minute)
	_, ok = c.get("a")
	require.False(t, ok)
	gen := c.generation()
	c.invalidate("b")
	c.put("a", []byte("stale"), gen)
	_, ok = c.get("a")
	require.False(t, ok, "a load that raced an invalidation is not cached")
	require.Zero(t, c.len())
}

func TestSecretsStayOutOfLogs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	id := &identity{Subject: "guest", Namespace: "guest", UUID: "u", Key: "SECRET-KEY"}
	log.Info("x", "user", id)
	require.Contains(t, buf.String(), "user=guest/guest")
	require.NotContains(t, buf.String(), "SECRET-KEY")
}
