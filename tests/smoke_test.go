// Package tests holds fnmgr's integration tests: they run against the local
// stack, one for the package: bin/localstack with bin/fnmgr as a child
// process, as `make run` runs it (tests/stackenv).
package tests

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/tests/stackenv"
)

// shared is the package's stack.
var shared *stackenv.Env

func TestMain(m *testing.M) { os.Exit(stackenv.Run(m, stackenv.Options{Process: true}, &shared)) }

// get sends a GET with optional Authorization and returns status and body.
func get(t *testing.T, rawURL, auth string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func TestSmoke(t *testing.T) {
	env := stackenv.Need(t, shared).EP

	t.Run("endpoints.json", func(t *testing.T) {
		for name, u := range map[string]string{"apihost": env.APIHost, "gateway": env.Gateway, "admin": env.Admin, "couchdb": env.CouchDB} {
			p, err := url.Parse(u)
			require.NoError(t, err, name)
			require.Equal(t, "http", p.Scheme, name)
			require.Equal(t, "127.0.0.1", p.Hostname(), "%s listens on 127.0.0.1 only", name)
			require.NotEmpty(t, p.Port(), name)
		}
		require.Len(t, env.Kafka, 1)
		require.True(t, strings.HasPrefix(env.Kafka[0], "127.0.0.1:"), env.Kafka[0])
		require.Equal(t, "guest", env.Namespace)
		uuid, key, ok := strings.Cut(env.Auth, ":")
		require.True(t, ok, "auth is uuid:key")
		require.Len(t, uuid, 36)
		require.Len(t, key, 64)
		require.GreaterOrEqual(t, len(env.AdminToken), 16)
	})

	t.Run("apihost GET /", func(t *testing.T) {
		code, body := get(t, env.APIHost+"/", "")
		require.Equal(t, http.StatusOK, code, string(body))
		var info entity.RootInfo
		require.NoError(t, json.Unmarshal(body, &info))
		require.Contains(t, info.APIPaths, "/api/v1")
		require.Contains(t, info.Runtimes, "nodejs")
	})

	t.Run("admin healthz", func(t *testing.T) {
		code, body := get(t, env.Admin+"/healthz", "")
		require.Equal(t, http.StatusOK, code, string(body))
	})

	t.Run("gateway GET /api/v1", func(t *testing.T) {
		code, body := get(t, env.Gateway+"/api/v1", "")
		require.Equal(t, http.StatusOK, code, string(body))
		var info entity.APIInfo
		require.NoError(t, json.Unmarshal(body, &info))
		require.Equal(t, "v1", info.APIVersionPath)
	})

	t.Run("action through the gateway", func(t *testing.T) {
		auth := "Basic " + basicToken(strings.Cut(env.Auth, ":"))
		action := env.Gateway + "/api/v1/namespaces/_/actions/smoke-hello"
		code, body := send(t, http.MethodPut, action+"?overwrite=true", auth,
			`{"exec":{"kind":"nodejs:default","code":"function main(p) { return {greeting: 'hello ' + p.name} }"}}`)
		require.Equal(t, http.StatusOK, code, string(body))
		code, body = send(t, http.MethodPost, action+"?blocking=true&result=true", auth, `{"name":"smoke"}`)
		require.Equal(t, http.StatusOK, code, string(body))
		require.JSONEq(t, `{"greeting":"hello smoke"}`, string(body))
	})

	t.Run("admin auth against the subjects database", func(t *testing.T) {
		uuid, key, _ := strings.Cut(env.Auth, ":")
		basic := "Basic " + basicToken(uuid, key)
		tests := []struct {
			name, path, auth string
			want             int
		}{
			{"guest key, own namespace", "/v1/namespaces/guest/functions", basic, http.StatusOK},
			{"guest key, other namespace", "/v1/namespaces/other/functions", basic, http.StatusForbidden},
			{"wrong key", "/v1/namespaces/guest/functions", "Basic " + basicToken(uuid, "wrong"), http.StatusUnauthorized},
			{"admin token", "/v1/namespaces/other/functions", "Bearer " + env.AdminToken, http.StatusOK},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				code, body := get(t, env.Admin+tc.path, tc.auth)
				require.Equal(t, tc.want, code, string(body))
			})
		}
	})
}

// send sends body as JSON and returns status and body.
func send(t *testing.T, method, rawURL, auth, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func basicToken(user, pass string, _ ...bool) string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}
