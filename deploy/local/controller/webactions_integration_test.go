package controller

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/kafka/message"
)

// webRunner answers by action name: "echo" returns its arguments, "page"
// an http response, "oops" an application error with an http error, "dev"
// a developer error, "lost" never answers.
func webRunner(msg message.Activation) (int, json.RawMessage) {
	switch msg.Action.Name {
	case "page":
		return entity.StatusSuccess, json.RawMessage(`{"statusCode":201,"headers":{"X-Custom":"yes","Set-Cookie":["a=1","b=2"]},"body":"<b>hi</b>"}`)
	case "img":
		return entity.StatusSuccess, json.RawMessage(`{"headers":{"Content-Type":"image/png"},"body":"iVBORw0KGgo="}`)
	case "oops":
		return entity.StatusApplicationError, json.RawMessage(`{"error":{"statusCode":418,"body":"teapot"}}`)
	case "dev":
		return entity.StatusDeveloperError, json.RawMessage(`{"error":"boom"}`)
	case "lost":
		return 0, nil
	}
	return echo(msg)
}

func TestWebActions(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Limits.MaxBlockingWait = time.Second })
	e.startFakeInvoker(webRunner, ackCombined)
	web := whisk.KeyValueArr{{Key: "web-export", Value: true}}
	for _, n := range []string{"echo", "page", "img", "oops", "dev", "lost"} {
		e.putHello(n, whisk.KeyValueArr{{Key: "fixed", Value: "v"}}, web)
	}
	e.putHello("private", nil, nil)
	e.putHello("guarded", nil, whisk.KeyValueArr{{Key: "web-export", Value: true}, {Key: "require-whisk-auth", Value: "s3cret"}})
	e.putHello("final", whisk.KeyValueArr{{Key: "fixed", Value: "v"}}, whisk.KeyValueArr{{Key: "web-export", Value: true}, {Key: "final", Value: true}})
	e.putHello("raw", nil, whisk.KeyValueArr{{Key: "web-export", Value: true}, {Key: "raw-http", Value: true}})

	t.Run("json with query, body and context", func(t *testing.T) {
		r := e.do(http.MethodPost, "/api/v1/web/guest/default/echo.json/some/path?q=1", "", `{"b":{"c":2}}`)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.Regexp(t, activationIDPattern, r.header.Get(activationIDHeader))
		require.Equal(t, "*", r.header.Get("Access-Control-Allow-Origin"))
		var args map[string]any
		r.json(t, &args)
		require.Equal(t, "post", args["__ow_method"])
		require.Equal(t, "/some/path", args["__ow_path"])
		require.Equal(t, "1", args["q"])
		require.Equal(t, map[string]any{"c": float64(2)}, args["b"])
		require.Equal(t, "v", args["fixed"])
		headers := args["__ow_headers"].(map[string]any)
		require.Equal(t, "application/json", headers["content-type"])
		require.NotContains(t, args, "__ow_user")
	})

	t.Run("http response", func(t *testing.T) {
		r := e.do(http.MethodGet, "/api/v1/web/guest/default/page", "", nil)
		require.Equal(t, 201, r.status)
		require.Equal(t, "<b>hi</b>", string(r.body))
		require.Equal(t, "yes", r.header.Get("X-Custom"))
		require.Equal(t, []string{"a=1", "b=2"}, r.header.Values("Set-Cookie"))
		require.Equal(t, "text/html; charset=UTF-8", r.header.Get("Content-Type"))
		r = e.do(http.MethodGet, "/api/v1/web/guest/default/img.http", "", nil)
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, "image/png", r.header.Get("Content-Type"))
		require.Equal(t, "\x89PNG\r\n\x1a\n", string(r.body))
	})

	t.Run("application error unwraps error", func(t *testing.T) {
		r := e.do(http.MethodGet, "/api/v1/web/guest/default/oops.http", "", nil)
		require.Equal(t, 418, r.status)
		require.Equal(t, "teapot", string(r.body))
	})

	t.Run("developer error", func(t *testing.T) {
		r := e.do(http.MethodGet, "/api/v1/web/guest/default/dev.json", "", nil)
		require.Equal(t, http.StatusBadRequest, r.status)
		require.Equal(t, msgErrorProcessing, r.errorBody(t))
	})

	t.Run("not ready", func(t *testing.T) {
		r := e.do(http.MethodGet, "/api/v1/web/guest/default/lost.json", "", nil)
		require.Equal(t, http.StatusAccepted, r.status)
		require.Equal(t, msgResponseNotReady, r.errorBody(t))
	})

	t.Run("raw http", func(t *testing.T) {
		r := e.do(http.MethodPut, "/api/v1/web/guest/default/raw.json?a=b&c=d", "", `{"x":1}`)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var args map[string]any
		r.json(t, &args)
		require.Equal(t, "a=b&c=d", args["__ow_query"])
		require.Equal(t, "eyJ4IjoxfQ==", args["__ow_body"], "JSON is passed base64 to raw actions")
		require.NotContains(t, args, "a")
	})

	t.Run("text body for a non-raw action", func(t *testing.T) {
		req := "hello there"
		r := e.doCT(http.MethodPost, "/api/v1/web/guest/default/echo.json", "text/plain", req)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var args map[string]any
		r.json(t, &args)
		require.Equal(t, req, args["__ow_body"])
	})

	t.Run("refusals", func(t *testing.T) {
		cases := []struct {
			name, path string
			header     map[string]string
			status     int
			msg        string
		}{
			{"not exported", "/api/v1/web/guest/default/private.json", nil, 404, msgNotFound},
			{"missing action", "/api/v1/web/guest/default/nope.json", nil, 404, msgNotFound},
			{"unknown namespace", "/api/v1/web/nobody/default/echo.json", nil, 404, msgNotFound},
			{"auth header missing", "/api/v1/web/guest/default/guarded.json", nil, 401, msgUnauthorized},
			{"auth header wrong", "/api/v1/web/guest/default/guarded.json", map[string]string{"X-Require-Whisk-Auth": "no"}, 401, msgUnauthorized},
			{"reserved override", "/api/v1/web/guest/default/echo.json?__ow_method=x", nil, 400, msgParamsNotAllowed},
			{"final override", "/api/v1/web/guest/default/final.json?fixed=x", nil, 400, msgParamsNotAllowed},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.doHeaders(http.MethodGet, c.path, c.header)
				require.Equal(t, c.status, r.status, "%s", r.body)
				require.Equal(t, c.msg, r.errorBody(t))
			})
		}
		r := e.doHeaders(http.MethodGet, "/api/v1/web/guest/default/guarded.json", map[string]string{"X-Require-Whisk-Auth": "s3cret"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	})

	t.Run("options answers CORS", func(t *testing.T) {
		r := e.doHeaders(http.MethodOptions, "/api/v1/web/guest/default/echo", map[string]string{"Access-Control-Request-Headers": "X-Foo"})
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, "X-Foo", r.header.Get("Access-Control-Allow-Headers"))
	})
}

// doCT sends a body of content type ct without credentials.
func (e *env) doCT(method, path, ct, body string) response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.url+path, strings.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", ct)
	return e.send(req)
}

// doHeaders sends a request without credentials and with headers.
func (e *env) doHeaders(method, path string, headers map[string]string) response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.url+path, nil)
	require.NoError(e.t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return e.send(req)
}
