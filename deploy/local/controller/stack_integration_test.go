package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/deploy/local/invoker"
	"github.com/fnmgr/fnmgr/tests/couchtest"
)

// startInvoker runs the local stack's real invoker 0 against the env.
func (e *env) startInvoker() {
	t := e.t
	t.Helper()
	inv, err := invoker.New(t.Context(), invoker.Options{
		ID: 0, CouchURL: couchtest.URL(t), DBPrefix: e.prefix, Brokers: e.brokers, UserMemoryMB: 1024,
		CgroupName: fmt.Sprintf("fnmgr-ctltest-%d", os.Getpid()), APIHost: e.url, UserEvents: true,
		WorkDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	require.NoError(t, err)
	require.NoError(t, inv.Start(t.Context()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, inv.Stop(ctx))
	})
}

const (
	greetJS   = "function main(p) { return { payload: 'Hello, ' + (p.name || 'World') }; }\n"
	shoutPy   = "def main(args):\n    return {'payload': args.get('payload', '').upper()}\n"
	failJS    = "function main(p) { return { error: 'nope' }; }\n"
	webHTTPJS = "function main(p) { return { statusCode: 200, headers: {'Content-Type': 'text/plain'}, body: p.__ow_method + ' ' + (p.who || '') }; }\n"
)

func TestWithRealInvoker(t *testing.T) {
	e := newEnv(t)
	e.startInvoker()
	put := func(name, kind, code string, params whisk.KeyValueArr, ann whisk.KeyValueArr) {
		t.Helper()
		_, _, err := e.wsk.Actions.Insert(&whisk.Action{Name: name, Exec: &whisk.Exec{Kind: kind, Code: &code},
			Parameters: params, Annotations: ann}, false)
		require.NoError(t, err)
	}
	put("greet", "nodejs:default", greetJS, whisk.KeyValueArr{{Key: "name", Value: "World"}}, nil)
	put("shout", "python:default", shoutPy, nil, nil)
	put("fail", "nodejs:default", failJS, nil, nil)
	put("page", "nodejs:default", webHTTPJS, nil, whisk.KeyValueArr{{Key: "web-export", Value: true}})

	t.Run("blocking result", func(t *testing.T) {
		res, _, err := e.wsk.Actions.Invoke("greet", map[string]any{"name": "Ada"}, true, true)
		require.NoError(t, err)
		require.Equal(t, map[string]any{"payload": "Hello, Ada"}, res)
	})

	t.Run("blocking activation", func(t *testing.T) {
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/greet?blocking=true", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var v entity.ActivationView
		r.json(t, &v)
		require.Equal(t, "guest/greet", annotation(t, v.Annotations, "path"))
		require.JSONEq(t, `{"payload":"Hello, World"}`, string(v.Response.Result))
	})

	t.Run("application error is 502", func(t *testing.T) {
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/fail?blocking=true&result=true", nil)
		require.Equal(t, http.StatusBadGateway, r.status)
		require.JSONEq(t, `{"error":"nope"}`, string(r.body))
	})

	t.Run("non-blocking", func(t *testing.T) {
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/greet", nil)
		require.Equal(t, http.StatusAccepted, r.status)
		var id entity.ActivationID
		r.json(t, &id)
		require.Eventually(t, func() bool {
			a, _, err := e.wsk.Activations.Get(id.ActivationID)
			return err == nil && a.Response.Status == "success"
		}, 30*time.Second, 50*time.Millisecond)
	})

	t.Run("sequence of node and python", func(t *testing.T) {
		require.Equal(t, http.StatusOK, e.putSequence("loud", "/_/greet", "/_/shout").status)
		res, _, err := e.wsk.Actions.Invoke("loud", map[string]any{"name": "Ada"}, true, true)
		require.NoError(t, err)
		require.Equal(t, map[string]any{"payload": "HELLO, ADA"}, res)
	})

	t.Run("trigger fires a rule", func(t *testing.T) {
		_, _, err := e.wsk.Triggers.Insert(&whisk.Trigger{Name: "tick"}, false)
		require.NoError(t, err)
		_, _, err = e.wsk.Rules.Insert(&whisk.Rule{Name: "onTick", Trigger: "/_/tick", Action: "/_/greet"}, false)
		require.NoError(t, err)
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/triggers/tick", map[string]any{"name": "Trigger"})
		require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
		var id entity.ActivationID
		r.json(t, &id)
		var act entity.Activation
		require.Eventually(t, func() bool {
			a, err := e.ctl.getActivation(t.Context(), "guest", id.ActivationID)
			act = a
			return err == nil
		}, 30*time.Second, 50*time.Millisecond)
		var line struct {
			ActivationID string `json:"activationId"`
			Success      bool   `json:"success"`
		}
		require.Len(t, act.Logs, 1)
		require.NoError(t, json.Unmarshal([]byte(act.Logs[0]), &line))
		require.True(t, line.Success)
		require.Eventually(t, func() bool {
			a, err := e.ctl.getActivation(t.Context(), "guest", line.ActivationID)
			return err == nil && string(a.Response.Result) == `{"payload":"Hello, Trigger"}`
		}, 30*time.Second, 50*time.Millisecond)
	})

	t.Run("web action", func(t *testing.T) {
		r := e.do(http.MethodGet, "/api/v1/web/guest/default/page.http?who=web", "", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.Equal(t, "get web", string(r.body))
	})
}
