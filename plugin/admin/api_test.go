package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/plugin/httpapi"
)

func TestStatusCodes(t *testing.T) {
	a := newTestAPI(t, nil)
	const fns = "/v1/namespaces/guest/functions"
	guest := basic(guestUUID, guestKey)
	tests := []struct {
		name, method, path, auth string
		body                     io.Reader
		want                     int
		wantAllow                string
	}{
		{name: "healthz needs no credentials", method: "GET", path: "/healthz", want: 200},
		{name: "readyz needs no credentials", method: "GET", path: "/readyz", want: 200},
		{name: "metrics needs no credentials", method: "GET", path: "/metrics", want: 200},
		{name: "openapi needs no credentials", method: "GET", path: "/v1/openapi.json", want: 200},
		{name: "list with admin token", method: "GET", path: fns, auth: bearer(testToken), want: 501},
		{name: "list with subject key", method: "GET", path: fns, auth: guest, want: 501},
		{name: "second namespace of the subject", method: "GET", path: "/v1/namespaces/guest-two/functions", auth: guest, want: 501},
		{name: "own namespace underscore", method: "GET", path: "/v1/namespaces/_/functions/hello", auth: guest, want: 501},
		{name: "underscore with admin token", method: "GET", path: "/v1/namespaces/_/functions/hello", auth: bearer(testToken), want: 400},
		{name: "other namespace with subject key", method: "GET", path: "/v1/namespaces/other/functions/hello", auth: guest, want: 403},
		{name: "other namespace with admin token", method: "GET", path: "/v1/namespaces/other/functions/hello", auth: bearer(testToken), want: 501},
		{name: "no credentials", method: "GET", path: fns, want: 401},
		{name: "wrong admin token", method: "GET", path: fns, auth: bearer(testToken + "x"), want: 401},
		{name: "unknown key", method: "GET", path: fns, auth: basic(guestUUID, "nope"), want: 401},
		{name: "basic without colon", method: "GET", path: fns, auth: "Basic Z3Vlc3Q=", want: 401},
		{name: "unsupported scheme", method: "GET", path: fns, auth: "Digest x", want: 401},
		{name: "subjects database down", method: "GET", path: fns, auth: basic("broken", "k"), want: 503},
		{name: "publish", method: "POST", path: fns + "/hello/versions", auth: guest, body: strings.NewReader(`{}`), want: 501},
		{name: "alias put", method: "PUT", path: fns + "/demo%2Fhello/aliases/prod", auth: guest, body: strings.NewReader(`{"version":1}`), want: 501},
		{name: "unknown route", method: "GET", path: "/v1/nothing", auth: guest, want: 404},
		{name: "unknown route without credentials", method: "GET", path: "/nope", want: 404},
		{name: "non-numeric version", method: "GET", path: fns + "/hello/versions/latest", auth: guest, want: 404},
		{name: "wrong method on function", method: "DELETE", path: fns + "/hello", auth: guest, want: 405, wantAllow: "GET"},
		{name: "wrong method on versions", method: "PATCH", path: fns + "/hello/versions", auth: guest, want: 405, wantAllow: "GET, POST"},
		{name: "wrong method on healthz", method: "POST", path: "/healthz", want: 405, wantAllow: "GET"},
		{name: "body over the limit", method: "POST", path: fns + "/hello/update", auth: guest,
			body: strings.NewReader(strings.Repeat("x", DefaultMaxBodyBytes+1)), want: 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := a.do(t, tc.method, tc.path, tc.auth, tc.body)
			require.Equal(t, tc.want, r.status, "body %s", r.body)
			require.NotEmpty(t, r.header.Get(httpapi.RequestIDHeader))
			if tc.want >= 400 {
				requireErrorShape(t, r)
			}
			if tc.want == 401 {
				require.Equal(t, `Basic realm="fnmgr"`, r.header.Get("WWW-Authenticate"))
			}
			if tc.wantAllow != "" {
				require.Equal(t, tc.wantAllow, r.header.Get("Allow"))
			}
		})
	}
}

// TestRouteMatching proves which operation serves a path and what the
// handler reads from it, for {fn} as name, package/name and package%2Fname.
func TestRouteMatching(t *testing.T) {
	a := newTestAPI(t, nil)
	type seen struct {
		op   string
		vars map[string]string
		ns   string
	}
	var got seen
	for _, rt := range routes {
		if rt.public {
			continue
		}
		a.ops[rt.op] = func(w http.ResponseWriter, r *http.Request) {
			got = seen{op: mux.CurrentRoute(r).GetName(), vars: map[string]string{}, ns: NamespaceFrom(r.Context())}
			for k := range mux.Vars(r) {
				v, err := pathVar(r, k)
				require.NoError(t, err)
				got.vars[k] = v
			}
		}
	}
	a.build()
	const fns = "/v1/namespaces/guest/functions"
	tests := []struct {
		name, method, path, op string
		vars                   map[string]string
	}{
		{"list", "GET", fns, "listFunctions", map[string]string{"ns": "guest"}},
		{"function", "GET", fns + "/hello", "getFunction", map[string]string{"ns": "guest", "fn": "hello"}},
		{"packaged, slash", "GET", fns + "/demo/hello", "getFunction", map[string]string{"ns": "guest", "fn": "demo/hello"}},
		{"packaged, %2F", "GET", fns + "/demo%2Fhello", "getFunction", map[string]string{"ns": "guest", "fn": "demo/hello"}},
		{"packaged, %2f lower case", "GET", fns + "/demo%2fhello", "getFunction", map[string]string{"ns": "guest", "fn": "demo/hello"}},
		{"name with space and at", "GET", fns + "/hello%20world@2", "getFunction", map[string]string{"ns": "guest", "fn": "hello world@2"}},
		{"versions of a function", "GET", fns + "/hello/versions", "listVersions", map[string]string{"ns": "guest", "fn": "hello"}},
		{"packaged action named versions needs %2F", "GET", fns + "/demo%2Fversions", "getFunction", map[string]string{"ns": "guest", "fn": "demo/versions"}},
		{"version of packaged, slash", "GET", fns + "/demo/hello/versions/3", "getVersion", map[string]string{"ns": "guest", "fn": "demo/hello", "n": "3"}},
		{"version of packaged, %2F", "DELETE", fns + "/demo%2Fhello/versions/3", "retireVersion", map[string]string{"ns": "guest", "fn": "demo/hello", "n": "3"}},
		{"alias, slash", "PUT", fns + "/demo/hello/aliases/prod", "putAlias", map[string]string{"ns": "guest", "fn": "demo/hello", "alias": "prod"}},
		{"alias, %2F", "GET", fns + "/demo%2Fhello/aliases/prod", "getAlias", map[string]string{"ns": "guest", "fn": "demo/hello", "alias": "prod"}},
		{"revisions", "GET", fns + "/hello/revisions", "listRevisions", map[string]string{"ns": "guest", "fn": "hello"}},
		{"rollback", "POST", fns + "/hello/rollback", "rollbackFunction", map[string]string{"ns": "guest", "fn": "hello"}},
		{"block", "POST", fns + "/demo/hello/block", "blockFunction", map[string]string{"ns": "guest", "fn": "demo/hello"}},
		{"unblock", "POST", fns + "/hello/unblock", "unblockFunction", map[string]string{"ns": "guest", "fn": "hello"}},
		{"update", "POST", fns + "/hello/update", "updateFunction", map[string]string{"ns": "guest", "fn": "hello"}},
		{"retire", "POST", fns + "/hello/retire", "retireFunction", map[string]string{"ns": "guest", "fn": "hello"}},
		{"history", "GET", fns + "/hello/history", "getHistory", map[string]string{"ns": "guest", "fn": "hello"}},
		{"config", "PUT", fns + "/hello/config", "putConfig", map[string]string{"ns": "guest", "fn": "hello"}},
		{"optimizations", "POST", fns + "/hello/optimizations", "startOptimization", map[string]string{"ns": "guest", "fn": "hello"}},
		{"list optimizations", "GET", fns + "/demo/hello/optimizations", "listOptimizations", map[string]string{"ns": "guest", "fn": "demo/hello"}},
		{"optimization", "GET", fns + "/demo/hello/optimizations/o1", "getOptimization", map[string]string{"ns": "guest", "fn": "demo/hello", "id": "o1"}},
		{"cancel optimization", "DELETE", fns + "/hello/optimizations/o1", "cancelOptimization", map[string]string{"ns": "guest", "fn": "hello", "id": "o1"}},
		{"chart", "GET", fns + "/demo%2Fhello/optimizations/o1/chart.svg", "getOptimizationChart", map[string]string{"ns": "guest", "fn": "demo/hello", "id": "o1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got = seen{}
			r := a.do(t, tc.method, tc.path, bearer(testToken), nil)
			require.Equal(t, http.StatusOK, r.status, "body %s", r.body)
			require.Equal(t, tc.op, got.op)
			require.Equal(t, tc.vars, got.vars)
			require.Equal(t, "guest", got.ns)
		})
	}
}

func TestReadyz(t *testing.T) {
	tests := []struct {
		name     string
		reasons  []string
		warnings []string
		want     int
	}{
		{"ready", nil, nil, http.StatusOK},
		{"not ready", []string{"change feed catching up", "kafka consumers joining"}, nil, http.StatusServiceUnavailable},
		{"ready without pings or events warns", nil, []string{"no invoker health ping", "no activation event"}, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAPI(t, func(o *Options) {
				o.Ready = func(context.Context) []string { return tc.reasons }
				o.Warnings = func(context.Context) []string { return tc.warnings }
			})
			r := a.do(t, "GET", "/readyz", "", nil)
			require.Equal(t, tc.want, r.status)
			var st status
			require.NoError(t, json.Unmarshal(r.body, &st))
			require.Equal(t, tc.reasons, st.Reasons)
			require.Equal(t, tc.warnings, st.Warnings)
		})
	}
}

func TestRequestID(t *testing.T) {
	a := newTestAPI(t, nil)
	tests := []struct {
		name, sent string
		echoed     bool
	}{
		{"client id is echoed", "abc-123.XYZ_7", true},
		{"unsafe id is replaced", "bad id\nwith newline", false},
		{"overlong id is replaced", strings.Repeat("a", 129), false},
		{"missing id is generated", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", "/v1/nothing", nil)
			require.NoError(t, err)
			if tc.sent != "" {
				// Set directly: Header.Set would refuse the newline.
				req.Header[http.CanonicalHeaderKey(httpapi.RequestIDHeader)] = []string{tc.sent}
			}
			rec := newRecorder()
			a.ServeHTTP(rec, req)
			e := requireErrorShape(t, result{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()})
			if tc.echoed {
				require.Equal(t, tc.sent, e.Code)
			} else {
				require.NotEqual(t, tc.sent, e.Code)
				require.Len(t, e.Code, 32)
			}
		})
	}
}

func TestMetricsCountRequests(t *testing.T) {
	a := newTestAPI(t, nil)
	a.do(t, "GET", "/v1/namespaces/guest/functions/hello", bearer(testToken), nil)
	a.do(t, "GET", "/nope", "", nil)
	r := a.do(t, "GET", "/metrics", "", nil)
	body := string(r.body)
	require.Contains(t, body, `fnmgr_http_requests_total{code="501",handler="/v1/namespaces/{ns}/functions/{fn}",server="admin"} 1`)
	require.Contains(t, body, `fnmgr_http_requests_total{code="404",handler="unmatched",server="admin"} 1`)
}

func TestDecodeBody(t *testing.T) {
	a := newTestAPI(t, func(o *Options) { o.MaxBodyBytes = 16 })
	type body struct {
		Reason string `json:"reason"`
	}
	tests := []struct {
		name, body string
		want       int
	}{
		{"valid", `{"reason":"x"}`, http.StatusOK},
		{"chunked body past the limit", `{"reason":"0123456789abcdef"}`, http.StatusRequestEntityTooLarge},
		{"unknown field", `{"why":"x"}`, http.StatusBadRequest},
		{"trailing data", `{} {}`, http.StatusBadRequest},
		{"not JSON", `reason`, http.StatusBadRequest},
	}
	a.ops["blockFunction"] = func(w http.ResponseWriter, r *http.Request) {
		var b body
		if a.decodeBody(w, r, &b) {
			w.WriteHeader(http.StatusOK)
		}
	}
	a.build()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", "/v1/namespaces/guest/functions/f/block", io.NopCloser(strings.NewReader(tc.body)))
			require.NoError(t, err)
			req.ContentLength = -1 // unknown length: only the reader can enforce the limit
			req.Header.Set("Authorization", bearer(testToken))
			rec := newRecorder()
			a.ServeHTTP(rec, req)
			require.Equal(t, tc.want, rec.Code, rec.Body.String())
		})
	}
}
