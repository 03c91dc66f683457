package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/optimizer"
	"github.com/fnmgr/fnmgr/plugin/api"
)

// TestValidationMessagesUseRequestNames: a 400 names a setting as the
// caller sent it (memorySize, gpuNum, limits.memory, graceSeconds), never
// capitalised nor as fnmgr's Go code names it (MemorySize, Go struct
// field ConfigRequest.memorySize, of type int), in OpenWhisk's error shape
// {"error": …, "code": …}. Sentences that start with a plain word still
// start with a capital.
func TestValidationMessagesUseRequestNames(t *testing.T) {
	a := newOfflineAPI(t)
	const notJSON = "The request body is not valid JSON for this operation: "
	tests := []struct {
		name, method, sub, body string
		want                    string // the whole message, or its start when it ends with "…"
	}{
		{"memory range", "PUT", "/config", `{"memorySize":64}`, "memorySize 64 MB must be between 128 and 2048 MB (MAX_MEMORY)."},
		{"memory steps", "PUT", "/config", `{"memorySize":200}`, "memorySize 200 MB must be a multiple of 64 MB."},
		{"GPUs", "PUT", "/config", `{"gpuNum":9}`, "gpuNum 9 must be between 0 and 8."},
		{"GPU memory", "PUT", "/config", `{"gpuMemorySize":300}`, "gpuMemorySize 300 MB must be a positive multiple of 256 MB."},
		{"GPU share", "PUT", "/config", `{"gpuPercentage":0}`, "gpuPercentage 0 must be between 1 and 100."},
		{"image", "PUT", "/config", `{"baseImage":"Team/Fn"}`, `baseImage "Team/Fn" is neither a runtime kind…`},
		{"memory as a string", "PUT", "/config", `{"memorySize":"256"}`, notJSON + "memorySize must be an integer, not a string."},
		{"memory out of int range", "PUT", "/config", `{"memorySize":1e30}`, notJSON + "memorySize must be an integer, not the number 1e30."},
		{"GPUs as a boolean", "PUT", "/config", `{"gpuNum":true}`, notJSON + "gpuNum must be an integer, not a boolean."},
		{"unknown setting", "PUT", "/config", `{"memory":256}`, notJSON + `unknown field "memory".`},
		{"body not an object", "PUT", "/config", `[1]`, notJSON + "the body must be a JSON object, not a list."},
		{"nested limit as a string", "POST", "/update", `{"limits":{"memory":"x"}}`, notJSON + "limits.memory must be an integer, not a string."},
		{"nested kind as a number", "POST", "/update", `{"exec":{"kind":20}}`, notJSON + "exec.kind must be a string, not a number."},
		{"test invocation", "POST", "/update", `{"limits":{"memory":256},"test":[1]}`, "test must be a JSON object (the test invocation's parameters)."},
		{"grace of a retire", "POST", "/retire", `{"graceSeconds":-1}`, "graceSeconds must be between 0 and one year."},
		{"grace of a block", "POST", "/block", `{"graceSeconds":5}`, "graceSeconds belongs to retire, not block."},
		{"reason", "POST", "/block", `{"reason":"` + strings.Repeat("r", 1025) + `"}`, "reason is longer than 1024 characters."},
		{"description", "POST", "/versions", `{"description":"` + strings.Repeat("d", 1025) + `"}`, "description is longer than 1024 characters."},
		{"code query flag", "GET", "/versions?code=yes", "", "code must be true or false."},
		{"version path", "GET", "/versions/0", "", `version "0" must be a positive integer.`},
		{"alias path", "PUT", "/aliases/007", `{"version":1}`, `alias "007" is a number; numbers name versions.`},
		{"a sentence", "PUT", "/aliases/prod", `{"version":1,"routing":[{"version":1,"weight":100}]}`, "Send either version or routing, not both."},
		{"another sentence", "POST", "/update", `{}`, "An update needs at least one of exec, limits, parameters, annotations."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := a.do(t, tc.method, fnsPath+"hello"+tc.sub, bearer(testToken), body)
			require.Equal(t, http.StatusBadRequest, r.status, "body %s", r.body)
			e := requireErrorShape(t, r) // exactly {"error", "code"}, code the request id
			if start, ok := strings.CutSuffix(tc.want, "…"); ok {
				require.True(t, strings.HasPrefix(e.Error, start), "message %q, want it to start %q", e.Error, start)
			} else {
				require.Equal(t, tc.want, e.Error)
			}
			require.NotContains(t, e.Error, "Go struct")
			require.NotContains(t, e.Error, "json: ")
		})
	}
}

// TestFailNamesTheRequest: a request that fails inside fnmgr (here: a
// CouchDB that does not answer) gets a 500 whose code is its request id,
// the same id is on the log line that says what failed (and on no line
// without it), and the failure is counted by category.
func TestFailNamesTheRequest(t *testing.T) {
	a := newOfflineAPI(t)
	r := a.do(t, "GET", fnsPath+"hello", bearer(testToken), nil)
	require.Equal(t, http.StatusInternalServerError, r.status, "body %s", r.body)
	e := requireErrorShape(t, r)
	require.Equal(t, "fnmgr could not complete the request; see its log for the request id.", e.Error)

	var failed int
	for _, line := range strings.Split(strings.TrimSpace(a.logs.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		require.Equal(t, e.Code, rec["request_id"], "every line of the request names it: %s", line)
		if rec["msg"] == "request failed" {
			failed++
			require.Contains(t, rec["err"], "127.0.0.1:1", "the log says what failed")
		}
	}
	require.Equal(t, 1, failed)
	require.Equal(t, 1.0, counterValue(t, a.reg, "fnmgr_http_request_errors_total", map[string]string{"server": "admin", "category": "internal"}))
}

// TestFailCategories: every 4xx a handler returns is counted under its
// category, a bounded label.
func TestFailCategories(t *testing.T) {
	a := newOfflineAPI(t)
	for range 2 {
		r := a.do(t, "GET", fnsPath+"hello/versions/0", bearer(testToken), nil)
		require.Equal(t, http.StatusBadRequest, r.status)
	}
	require.Equal(t, 2.0, counterValue(t, a.reg, "fnmgr_http_request_errors_total", map[string]string{"server": "admin", "category": "invalid"}))
}

// counterValue reads one counter of reg (0 when absent).
func counterValue(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// TestRequestFieldsDescribed: every name a request body's Go type accepts
// is in openapi.json, so the document tells callers what they may send.
func TestRequestFieldsDescribed(t *testing.T) {
	for _, v := range []any{api.ConfigRequest{}, api.UpdateRequest{}, entity.ExecPut{}, entity.LimitsPut{}, optimizer.Request{}} {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			require.True(t, requestFields()[name], "%s's field %q is missing from openapi.json's request bodies", typ, name)
		}
	}
	for _, name := range []string{"memorySize", "gpuNum", "limits", "exec", "graceSeconds", "alias", "code", "limit"} {
		require.True(t, requestFields()[name], "%q is a request name", name)
	}
	for _, name := range []string{"error", "transition", "MemorySize"} {
		require.False(t, requestFields()[name], "%q is no request name", name)
	}
}

// requestFields are the names a request to the admin API can carry, as
// openapi.json describes them: the properties of every request body
// (followed through $ref) and every parameter's name.
func requestFields() map[string]bool {
	fields := map[string]bool{}
	var doc map[string]any
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		return fields // TestOpenAPIRefsResolve fails on a broken document
	}
	seen := map[string]bool{}
	var walk func(v any, inBody bool)
	walk = func(v any, inBody bool) {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				walk(e, inBody)
			}
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok && inBody && !seen[ref] {
				seen[ref] = true
				walk(resolveRef(doc, ref), true)
			}
			if props, ok := v["properties"].(map[string]any); ok && inBody {
				for name := range props {
					fields[name] = true
				}
			}
			if params, ok := v["parameters"].([]any); ok {
				for _, p := range params {
					p, _ := p.(map[string]any)
					if ref, ok := p["$ref"].(string); ok {
						p, _ = resolveRef(doc, ref).(map[string]any)
					}
					if name, ok := p["name"].(string); ok {
						fields[name] = true
					}
				}
			}
			for k, e := range v {
				walk(e, inBody || k == "requestBody")
			}
		}
	}
	walk(doc["paths"], false)
	return fields
}

// resolveRef follows a local reference such as
// "#/components/schemas/Exec" (nil if it leads nowhere).
func resolveRef(doc map[string]any, ref string) any {
	var cur any = doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}
