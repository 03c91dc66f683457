package controller

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/deploy/local/seed"
	"github.com/fnmgr/fnmgr/kafka/message"
)

var activationIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// putHello creates guest/<name> with a default parameter.
func (e *env) putHello(name string, params whisk.KeyValueArr, annotations whisk.KeyValueArr) *whisk.Action {
	e.t.Helper()
	code := helloJS
	a, _, err := e.wsk.Actions.Insert(&whisk.Action{Name: name, Exec: &whisk.Exec{Kind: "nodejs:default", Code: &code},
		Parameters: params, Annotations: annotations}, false)
	require.NoError(e.t, err)
	return a
}

func TestInvoke(t *testing.T) {
	e := newEnv(t)
	fi := e.startFakeInvoker(func(msg message.Activation) (int, json.RawMessage) {
		var in map[string]any
		_ = json.Unmarshal(msg.Content, &in)
		if s, ok := in["status"].(float64); ok {
			return int(s), json.RawMessage(`{"error":"failed on purpose"}`)
		}
		return echo(msg)
	}, ackCombined)
	e.putHello("hello", whisk.KeyValueArr{{Key: "name", Value: "World"}, {Key: "secret", Value: "PARAM-SECRET"}}, nil)

	t.Run("blocking", func(t *testing.T) {
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/hello?blocking=true", map[string]any{"name": "Ada", "n": 1})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var v entity.ActivationView
		r.json(t, &v)
		require.Equal(t, r.header.Get(activationIDHeader), v.ActivationID)
		require.True(t, v.Response.Success)
		require.Equal(t, "success", v.Response.Status)
		require.JSONEq(t, `{"name":"Ada","secret":"PARAM-SECRET","n":1}`, string(v.Response.Result))
		require.NotContains(t, string(r.body), `"statusCode"`)

		msg := fi.next(t)
		require.Equal(t, v.ActivationID, msg.ActivationID)
		require.Regexp(t, activationIDPattern, msg.ActivationID)
		require.Equal(t, r.header.Get("X-Request-ID"), msg.TransID.ID())
		require.Len(t, msg.TransID, 2)
		require.Equal(t, entity.FullyQualifiedName{Path: "guest", Name: "hello", Version: "0.0.1"}, msg.Action)
		require.Equal(t, e.rawDoc("guest/hello")["_rev"], msg.Revision)
		require.Equal(t, "guest", msg.User.Subject)
		require.Equal(t, message.Namespace{Name: "guest", UUID: seed.GuestUUID}, msg.User.Namespace)
		require.Equal(t, seed.GuestAuth, msg.User.AuthKey.APIKey)
		require.Equal(t, message.ControllerInstance{AsString: "0", InstanceType: "controller"}, msg.RootControllerIndex)
		require.True(t, msg.Blocking)
		require.Empty(t, msg.Cause)
		require.NotNil(t, msg.InitArgs)
		require.NotNil(t, msg.LockedArgs)
	})

	t.Run("blocking result only, through client-go", func(t *testing.T) {
		res, _, err := e.wsk.Actions.Invoke("hello", map[string]any{"x": true}, true, true)
		require.NoError(t, err)
		require.Equal(t, map[string]any{"name": "World", "secret": "PARAM-SECRET", "x": true}, res)
		fi.next(t)
	})

	t.Run("non-blocking", func(t *testing.T) {
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/hello", nil)
		require.Equal(t, http.StatusAccepted, r.status)
		var v entity.ActivationID
		r.json(t, &v)
		require.Regexp(t, activationIDPattern, v.ActivationID)
		require.Equal(t, v.ActivationID, r.header.Get(activationIDHeader))
		require.False(t, fi.next(t).Blocking)
		require.Eventually(t, func() bool {
			return e.guest(http.MethodGet, "/api/v1/namespaces/_/activations/"+v.ActivationID, nil).status == http.StatusOK
		}, 10*time.Second, 20*time.Millisecond)
		a, _, err := e.wsk.Activations.Get(v.ActivationID)
		require.NoError(t, err)
		require.Equal(t, "hello", a.Name)
		require.Equal(t, "success", a.Response.Status)
	})

	for _, c := range []struct {
		status int
		http   int
		text   string
	}{
		{entity.StatusApplicationError, http.StatusBadGateway, "application error"},
		{entity.StatusDeveloperError, http.StatusBadGateway, "action developer error"},
		{entity.StatusInternalError, http.StatusInternalServerError, "whisk internal error"},
	} {
		t.Run("status "+c.text, func(t *testing.T) {
			r := e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/hello?blocking=true", map[string]any{"status": c.status})
			require.Equal(t, c.http, r.status)
			var v entity.ActivationView
			r.json(t, &v)
			require.Equal(t, c.text, v.Response.Status)
			require.False(t, v.Response.Success)
			r = e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/hello?blocking=true&result=true", map[string]any{"status": c.status})
			require.Equal(t, c.http, r.status)
			require.JSONEq(t, `{"error":"failed on purpose"}`, string(r.body))
			fi.next(t)
			fi.next(t)
		})
	}

	t.Run("final parameters cannot be overridden", func(t *testing.T) {
		e.putHello("fixed", whisk.KeyValueArr{{Key: "name", Value: "World"}}, whisk.KeyValueArr{{Key: "final", Value: true}})
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/fixed?blocking=true", map[string]any{"name": "x"})
		require.Equal(t, http.StatusBadRequest, r.status)
		require.Equal(t, msgParamsNotAllowed, r.errorBody(t))
		r = e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/fixed?blocking=true", map[string]any{"other": "x"})
		require.Equal(t, http.StatusOK, r.status)
		fi.next(t)
	})

	t.Run("body must be an object", func(t *testing.T) {
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/hello", `[1,2]`)
		require.Equal(t, http.StatusBadRequest, r.status)
	})
}

func TestInvokeAckShapes(t *testing.T) {
	cases := []struct {
		name string
		mode ackMode
	}{
		{"shrunk ack reads the record", ackShrunk},
		{"result then completion", ackResultThenDone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.startFakeInvoker(echo, c.mode)
			e.putHello("hello", whisk.KeyValueArr{{Key: "name", Value: "World"}}, nil)
			r := e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/hello?blocking=true&result=true", map[string]any{"k": "v"})
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			require.JSONEq(t, `{"name":"World","k":"v"}`, string(r.body))
		})
	}
	t.Run("a lost ack is found by polling the database", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.dbPoll = 100 * time.Millisecond })
		e.startFakeInvoker(echo, ackNever)
		e.putHello("hello", nil, nil)
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/hello?blocking=true&result=true", map[string]any{"k": "v"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.JSONEq(t, `{"k":"v"}`, string(r.body))
	})
	t.Run("no result within the wait gives 202", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.Limits.MaxBlockingWait = time.Second })
		e.startFakeInvoker(echo, ackLost)
		e.putHello("hello", nil, nil)
		start := time.Now()
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/hello?blocking=true&timeout=300", nil)
		require.Equal(t, http.StatusAccepted, r.status)
		require.Less(t, time.Since(start), 5*time.Second)
		var v entity.ActivationID
		r.json(t, &v)
		require.Equal(t, v.ActivationID, r.header.Get(activationIDHeader))
		_, resp, err := e.wsk.Actions.Invoke("hello", nil, true, true)
		require.Error(t, err, "client-go reports a blocking 202 as an error")
		require.Equal(t, http.StatusAccepted, resp.StatusCode)
	})
}

func TestStopEndsBlockingWaits(t *testing.T) {
	e := newEnv(t)
	fi := e.startFakeInvoker(echo, ackLost)
	e.putHello("hello", nil, nil)
	req, err := http.NewRequest(http.MethodPost, e.url+"/api/v1/namespaces/_/actions/hello?blocking=true", nil)
	require.NoError(t, err)
	req.SetBasicAuth(seed.GuestUUID, seed.GuestKey)
	done := make(chan response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- response{status: -1, body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- response{status: resp.StatusCode, header: resp.Header, body: b}
	}()
	fi.next(t)
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	require.NoError(t, e.ctl.Stop(ctx))
	require.Less(t, time.Since(start), 10*time.Second)
	r := <-done
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
	require.Equal(t, msgUnavailable, r.errorBody(t))
}
