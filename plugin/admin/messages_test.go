package admin

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/optimizer"
	"github.com/fnmgr/fnmgr/plugin/lifecycle"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/versions"
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

// TestSentence: how errors from the controllers read.
func TestSentence(t *testing.T) {
	inv := func(s string) error { return fmt.Errorf("%s: %w", s, registry.ErrInvalid) }
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"versions field", inv("gpuNum 9 must be between 0 and 8"), "gpuNum 9 must be between 0 and 8."},
		{"lifecycle limit", inv("limits.memory 64 MB below allowed threshold of 128 MB"), "limits.memory 64 MB below allowed threshold of 128 MB."},
		{"lifecycle kind", inv(`exec.kind "ruby:2.5" is not a runtime this deployment offers`), `exec.kind "ruby:2.5" is not a runtime this deployment offers.`},
		{"optimizer field", inv("optimizer: maxInvocations 2 must be between 3 and 100"), "maxInvocations 2 must be between 3 and 100."},
		{"optimizer list element", inv("optimizer: payloads[0] must be a JSON object (the action's parameters)"), "payloads[0] must be a JSON object (the action's parameters)."},
		{"optimizer field not in SPEC", inv("optimizer: mode \"x\" must be active, passive or both"), `mode "x" must be active, passive or both.`},
		{"a plain sentence", inv("versions: a sequence needs components"), "A sequence needs components."},
		{"a word that is no field", inv("memoryless things"), "Memoryless things."},
		{"conflict", fmt.Errorf("lifecycle: guest/f is RETIRED: %w", registry.ErrGone), "Guest/f is RETIRED."},
		{"already a sentence", errors.New("Done."), "Done."},
		{"a bare sentinel", registry.ErrInvalid, "Invalid request."},
		{"nothing left", errors.New("versions: "), "The request failed."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, sentence(tc.err))
		})
	}
}

// TestRequestFieldsDescribed: every name a request body's Go type accepts
// is in openapi.json, so that sentence keeps it as the caller sent it (and
// the document tells callers what they may send).
func TestRequestFieldsDescribed(t *testing.T) {
	for _, v := range []any{versions.ConfigRequest{}, lifecycle.UpdateRequest{}, entity.ExecPut{}, entity.LimitsPut{}, optimizer.Request{}} {
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
