package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The validation tables below run each request through the real handlers
// (newOfflineAPI): what breaks a rule is answered 400 with a sentence
// naming the rule, before fnmgr touches a database; what keeps the rules
// passes validation (and then fails offline, with 500).

const fnsPath = "/v1/namespaces/guest/functions/"

// requireRule checks a 400 whose message contains every word of rule,
// case included (a field's name appears as the request spells it).
func requireRule(t *testing.T, r result, rule ...string) {
	t.Helper()
	require.Equal(t, http.StatusBadRequest, r.status, "body %s", r.body)
	e := requireErrorShape(t, r)
	for _, w := range rule {
		require.Contains(t, e.Error, w)
	}
}

// requireValid checks that a request passed validation: offline, it then
// fails at the first database call.
func requireValid(t *testing.T, r result) {
	t.Helper()
	require.Equal(t, http.StatusInternalServerError, r.status, "want it past validation, got %s", r.body)
}

func TestFunctionNameValidation(t *testing.T) {
	a := newOfflineAPI(t)
	tests := []struct {
		name  string // as it appears in the path (percent-encoded)
		valid bool
	}{
		{"hello", true},
		{"a", true},
		{"_x", true},
		{"pkg/hello", true},
		{"pkg%2Fhello", true},
		{"a%20b", true},
		{"a.b-c&d@e", true},
		{strings.Repeat("x", 256), true},
		{strings.Repeat("x", 257), false},
		{"%20lead", false},
		{"trail%20", false},
		{"-x", false},
		{".x", false},
		{"@x", false},
		{"a%2F", false},
		{"%2Fa", false},
		{"a%2Fb%2Fc", false},
		{"a%00b", false},
		{"a%0Ab", false},
		{"a*b", false},
		{"a%25b", false},
		{"a%3Fb", false},
		{"%C3%A9t%C3%A9", false},
		{"pkg/%20x", false},
	}
	for _, tc := range tests {
		t.Run(tc.name[:min(len(tc.name), 40)], func(t *testing.T) {
			r := a.do(t, "GET", fnsPath+tc.name, bearer(testToken), nil)
			if tc.valid {
				requireValid(t, r)
				return
			}
			requireRule(t, r, "is not a valid function name")
		})
	}
}

// TestAliasNameValidation: an alias is an OpenWhisk name segment that is
// not a number, of 1-64 letters, digits, '_', '-' and '.' (what
// versions.ValidateAlias states). An '@' would make name@alias read as a
// different function (fnmgr splits managed names at the last '@').
func TestAliasNameValidation(t *testing.T) {
	a := newOfflineAPI(t)
	tests := []struct {
		alias string // percent-encoded
		valid bool
	}{
		{"prod", true},
		{"canary-1", true},
		{"a.b", true},
		{"_x", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"1", false},
		{"007", false},
		{"a@b", false},
		{"a%20b", false},
		{"a&b", false},
		{"-a", false},
		{".a", false},
		{"%C3%A9", false},
		{"a%00", false},
	}
	for _, tc := range tests {
		t.Run(tc.alias, func(t *testing.T) {
			r := a.do(t, "PUT", fnsPath+"hello/aliases/"+tc.alias, bearer(testToken), strings.NewReader(`{"version":1}`))
			if tc.valid {
				requireValid(t, r)
				return
			}
			requireRule(t, r, "alias")
		})
	}
}

// TestSettingValidation is SPEC.md section 2's run-time settings table
// (memory 128 MB, this deployment's minimum, to MAX_MEMORY 2048 MB in 64 MB
// steps; 0-8 GPUs; GPU memory in 256 MB steps; 1-100 percent; a runtime
// kind or a Docker image) and the other bodies' rules.
func TestSettingValidation(t *testing.T) {
	a := newOfflineAPI(t)
	type call struct{ method, sub, body string }
	cfg := func(body string) call { return call{"PUT", "/config", body} }
	tests := []struct {
		name string
		call call
		rule []string // empty: valid
	}{
		{"memory at the minimum", cfg(`{"memorySize":128}`), nil},
		{"memory in a 64 MB step", cfg(`{"memorySize":192}`), nil},
		{"memory at MAX_MEMORY", cfg(`{"memorySize":2048}`), nil},
		{"memory below the minimum", cfg(`{"memorySize":64}`), []string{"memorySize", "between 128 and 2048"}},
		{"memory zero", cfg(`{"memorySize":0}`), []string{"memorySize"}},
		{"memory negative", cfg(`{"memorySize":-64}`), []string{"memorySize"}},
		{"memory off the 64 MB steps", cfg(`{"memorySize":200}`), []string{"memorySize", "multiple of 64"}},
		{"memory above MAX_MEMORY", cfg(`{"memorySize":2112}`), []string{"memorySize", "MAX_MEMORY"}},
		{"memory as a string", cfg(`{"memorySize":"256"}`), []string{"not valid JSON for this operation"}},
		{"memory huge", cfg(`{"memorySize":1e30}`), []string{"not valid JSON for this operation"}},
		{"no GPU", cfg(`{"gpuNum":0}`), nil},
		{"all GPUs of a node", cfg(`{"gpuNum":8}`), nil},
		{"negative GPUs", cfg(`{"gpuNum":-1}`), []string{"gpuNum", "between 0 and 8"}},
		{"more GPUs than a node", cfg(`{"gpuNum":9}`), []string{"gpuNum"}},
		{"GPU memory in steps", cfg(`{"gpuMemorySize":512}`), nil},
		{"GPU memory zero", cfg(`{"gpuMemorySize":0}`), []string{"gpuMemorySize", "256"}},
		{"GPU memory off the steps", cfg(`{"gpuMemorySize":300}`), []string{"gpuMemorySize", "256"}},
		{"GPU share 1%", cfg(`{"gpuPercentage":1}`), nil},
		{"GPU share 100%", cfg(`{"gpuPercentage":100}`), nil},
		{"GPU share 0%", cfg(`{"gpuPercentage":0}`), []string{"gpuPercentage", "between 1 and 100"}},
		{"GPU share 101%", cfg(`{"gpuPercentage":101}`), []string{"gpuPercentage"}},
		{"runtime kind", cfg(`{"baseImage":"python:3"}`), nil},
		{"default kind", cfg(`{"baseImage":"nodejs:default"}`), nil},
		{"docker image", cfg(`{"baseImage":"openwhisk/action-python-v3.11:nightly"}`), nil},
		{"registry image", cfg(`{"baseImage":"registry.local:5000/team/fn:1.2"}`), nil},
		{"unknown kind", cfg(`{"baseImage":"ruby:2.5"}`), []string{"baseImage", "runtime kind"}},
		{"empty image", cfg(`{"baseImage":""}`), []string{"baseImage"}},
		{"image in capitals", cfg(`{"baseImage":"Team/Fn"}`), []string{"baseImage"}},
		{"image with a shell", cfg(`{"baseImage":"a/b;rm -rf /"}`), []string{"baseImage"}},
		{"unknown setting", cfg(`{"memory":256}`), []string{"unknown field"}},
		{"two bodies", cfg(`{"gpuNum":1}{"gpuNum":2}`), []string{"not valid JSON"}},

		{"publish description too long", call{"POST", "/versions", `{"description":"` + strings.Repeat("d", 1025) + `"}`}, []string{"description", "1024"}},
		{"alias with version and routing", call{"PUT", "/aliases/prod", `{"version":1,"routing":[{"version":1,"weight":100}]}`}, []string{"either version or routing"}},
		{"alias with neither", call{"PUT", "/aliases/prod", `{}`}, []string{"version"}},
		{"rollback without a version", call{"POST", "/rollback", `{}`}, []string{"version"}},
		{"rollback to version 0", call{"POST", "/rollback", `{"version":0}`}, []string{"version"}},
		{"block reason too long", call{"POST", "/block", `{"reason":"` + strings.Repeat("r", 1025) + `"}`}, []string{"reason", "1024"}},
		{"block with a grace", call{"POST", "/block", `{"graceSeconds":5}`}, []string{"graceSeconds"}},
		{"unblock with a body", call{"POST", "/unblock", `{"reason":"x"}`}, []string{"unknown field"}},
		{"retire grace negative", call{"POST", "/retire", `{"graceSeconds":-1}`}, []string{"graceSeconds"}},
		{"retire grace over a year", call{"POST", "/retire", `{"graceSeconds":31536001}`}, []string{"graceSeconds"}},
		{"update without a change", call{"POST", "/update", `{}`}, []string{"at least one of"}},
		{"update test not an object", call{"POST", "/update", `{"limits":{"memory":256},"test":[1]}`}, []string{"test", "JSON object"}},
		{"version number 0", call{"GET", "/versions/0", ``}, []string{"positive integer"}},
		{"code flag not a boolean", call{"GET", "/versions?code=yes", ``}, []string{"code must be true or false"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.call.body != "" {
				body = strings.NewReader(tc.call.body)
			}
			r := a.do(t, tc.call.method, fnsPath+"hello"+tc.call.sub, bearer(testToken), body)
			if tc.rule == nil {
				requireValid(t, r)
				return
			}
			requireRule(t, r, tc.rule...)
		})
	}
}

// TestListValidation: the list's filters.
func TestListValidation(t *testing.T) {
	a := newOfflineAPI(t)
	for _, q := range []string{"limit=-1", "limit=x", "skip=-5", "skip=1e3", "state=ASLEEP"} {
		t.Run(q, func(t *testing.T) {
			r := a.do(t, "GET", "/v1/namespaces/guest/functions?"+q, bearer(testToken), nil)
			require.Equal(t, http.StatusBadRequest, r.status, "body %s", r.body)
			var e struct{ Error string }
			require.NoError(t, json.Unmarshal(r.body, &e))
			require.NotEmpty(t, e.Error)
		})
	}
}
