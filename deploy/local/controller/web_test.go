package controller

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
)

func TestWebRespond(t *testing.T) {
	cases := []struct {
		name   string
		status int
		result string
		ext    string
		code   int
		ct     string
		body   string
	}{
		{"json object", 0, `{"a":1}`, ".json", 200, "application/json", `{"a":1}`},
		{"json array", 0, `[1]`, ".json", 200, "application/json", `[1]`},
		{"html field", 0, `{"html":"<p>x</p>"}`, ".html", 200, "text/html; charset=UTF-8", "<p>x</p>"},
		{"html body wins", 0, `{"body":"<b>", "html":"<p>"}`, ".html", 200, "text/html; charset=UTF-8", "<b>"},
		{"svg", 0, `{"svg":"<svg/>"}`, ".svg", 200, "image/svg+xml", "<svg/>"},
		{"text string", 0, `{"text":"plain"}`, ".text", 200, "text/plain; charset=UTF-8", "plain"},
		{"text number", 0, `{"text":42}`, ".text", 200, "text/plain; charset=UTF-8", "42"},
		{"text object", 0, `{"text":{"a":1}}`, ".text", 200, "text/plain; charset=UTF-8", "{\n  \"a\": 1\n}"},
		{"text missing", 0, `{"x":1}`, ".text", 404, "application/json", msgPropertyNotFound},
		{"http default html", 0, `{"body":"hi"}`, ".http", 200, "text/html; charset=UTF-8", "hi"},
		{"http status string", 0, `{"statusCode":"404","body":"gone"}`, ".http", 404, "text/html; charset=UTF-8", "gone"},
		{"http no body", 0, `{"statusCode":302,"headers":{"Location":"/x"}}`, ".http", 302, "", ""},
		{"http empty", 0, `{}`, ".http", 204, "", ""},
		{"http json body", 0, `{"body":{"k":"v"}}`, ".http", 200, "application/json", `{"k":"v"}`},
		{"http binary", 0, `{"headers":{"content-type":"application/octet-stream"},"body":"AAEC"}`, ".http", 200, "application/octet-stream", "\x00\x01\x02"},
		{"http bad base64", 0, `{"headers":{"content-type":"image/png"},"body":"!!"}`, ".http", 400, "application/json", msgHTTPContentType},
		{"http json body, text type", 0, `{"headers":{"content-type":"text/plain"},"body":{"k":1}}`, ".http", 400, "application/json", msgHTTPContentType},
		{"http not an object", 0, `"str"`, ".http", 400, "application/json", "Response is not valid 'message/http'."},
		{"http bad status", 0, `{"statusCode":1.5}`, ".http", 400, "application/json", "Response is not valid 'message/http'."},
		{"json not object", 0, `"str"`, ".json", 400, "application/json", "Response is not valid 'application/json'."},
		{"application error unwrapped", 1, `{"error":{"statusCode":418,"body":"teapot"}}`, ".http", 418, "text/html; charset=UTF-8", "teapot"},
		{"application error json", 1, `{"error":{"why":"x"}}`, ".json", 200, "application/json", `{"why":"x"}`},
		{"developer error", 2, `{"error":"x"}`, ".json", 400, "application/json", msgErrorProcessing},
		{"internal error", 3, `{"error":"x"}`, ".http", 400, "application/json", msgErrorProcessing},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			err := webRespond(rec, entity.ActivationResponse{StatusCode: c.status, Result: json.RawMessage(c.result)}, c.ext)
			if err != nil {
				writeError(rec, req, err)
			}
			require.Equal(t, c.code, rec.Code)
			require.Equal(t, c.ct, rec.Header().Get("Content-Type"))
			body := rec.Body.String()
			if err != nil {
				var e entity.Error
				require.NoError(t, json.Unmarshal([]byte(body), &e))
				body = e.Error
			}
			require.Equal(t, c.body, body)
		})
	}
}

func TestWebArguments(t *testing.T) {
	cases := []struct {
		name    string
		method  string
		target  string
		ct      string
		body    string
		raw     bool
		user    *identity
		want    map[string]any
		errText string
	}{
		{"query and json body", "POST", "/x?q=1", "application/json", `{"b":2}`, false, nil,
			map[string]any{"__ow_method": "post", "__ow_path": "/p", "q": "1", "b": float64(2)}, ""},
		{"json non-object is __ow_body", "POST", "/x", "application/json", `[1,2]`, false, nil,
			map[string]any{"__ow_method": "post", "__ow_path": "/p", "__ow_body": []any{float64(1), float64(2)}}, ""},
		{"form fields", "POST", "/x", "application/x-www-form-urlencoded", `a=1&b=two`, false, nil,
			map[string]any{"__ow_method": "post", "__ow_path": "/p", "a": "1", "b": "two"}, ""},
		{"text is a string", "PUT", "/x", "text/plain", `hello`, false, nil,
			map[string]any{"__ow_method": "put", "__ow_path": "/p", "__ow_body": "hello"}, ""},
		{"binary is base64", "PUT", "/x", "application/octet-stream", "\x00\x01", false, nil,
			map[string]any{"__ow_method": "put", "__ow_path": "/p", "__ow_body": "AAE="}, ""},
		{"raw keeps query and body", "POST", "/x?a=b", "application/json", `{"x":1}`, true, nil,
			map[string]any{"__ow_method": "post", "__ow_path": "/p", "__ow_query": "a=b", "__ow_body": "eyJ4IjoxfQ=="}, ""},
		{"raw without body", "GET", "/x", "", ``, true, nil,
			map[string]any{"__ow_method": "get", "__ow_path": "/p", "__ow_query": "", "__ow_body": ""}, ""},
		{"authenticated user", "GET", "/x", "", ``, false, &identity{Namespace: "guest"},
			map[string]any{"__ow_method": "get", "__ow_path": "/p", "__ow_user": "guest"}, ""},
		{"reserved in query", "GET", "/x?__ow_path=1", "", ``, false, nil, nil, msgParamsNotAllowed},
		{"reserved in body", "POST", "/x", "application/json", `{"__ow_user":"x"}`, false, nil, nil, msgParamsNotAllowed},
		{"final in query", "GET", "/x?fixed=1", "", ``, false, nil, nil, msgParamsNotAllowed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
			if c.ct != "" {
				req.Header.Set("Content-Type", c.ct)
			}
			body, err := webBody(req, c.raw, 1<<20)
			require.NoError(t, err)
			args, err := webArguments(req, "/p", c.user, c.raw, body, map[string]bool{"fixed": true})
			if c.errText != "" {
				require.Equal(t, c.errText, asAPIError(err).msg)
				return
			}
			require.NoError(t, err)
			var got map[string]any
			require.NoError(t, json.Unmarshal(args.Object(), &got))
			headers := got["__ow_headers"].(map[string]any)
			require.Equal(t, "example.com", headers["host"])
			delete(got, "__ow_headers")
			require.Equal(t, c.want, got)
		})
	}
}

func TestWebAuthorized(t *testing.T) {
	cases := []struct {
		name   string
		ann    string
		header string
		user   bool
		ok     bool
	}{
		{"none", ``, "", false, true},
		{"string match", `"s3"`, "s3", false, true},
		{"string mismatch", `"s3"`, "x", false, false},
		{"number match", `123`, "123", false, true},
		{"true needs a user", `true`, "", false, false},
		{"true with a user", `true`, "", true, true},
		{"false refuses", `false`, "", true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ann := entity.KeyValues{}
			if c.ann != "" {
				ann = entity.KeyValues{{Key: "require-whisk-auth", Value: json.RawMessage(c.ann)}}
			}
			req := httptest.NewRequest("GET", "/", nil)
			if c.header != "" {
				req.Header.Set("X-Require-Whisk-Auth", c.header)
			}
			var user *identity
			if c.user {
				user = &identity{}
			}
			require.Equal(t, c.ok, webAuthorized(ann, req, user))
		})
	}
}

func TestFilterName(t *testing.T) {
	cases := []struct {
		name string
		ann  entity.KeyValues
		want string
	}{
		{"plain", entity.KeyValues{}.With("path", "guest/hello"), "hello"},
		{"packaged", entity.KeyValues{}.With("path", "guest/demo/hello"), "demo/hello"},
		{"through binding", entity.KeyValues{}.With("path", "guest/demo/hello").With("binding", "guest/b"), "b/hello"},
		{"no annotations", entity.KeyValues{}, "hello"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, filterName("hello", c.ann))
		})
	}
}
