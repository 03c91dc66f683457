package controller

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/deploy/local/seed"
)

func TestNamespacesLimitsAndSubjects(t *testing.T) {
	// No identity cache, so subject changes show at once.
	e := newEnv(t, func(o *Options) { o.IdentityTTL = -1 })
	e.startFakeInvoker(echo, ackCombined)
	subjects := e.couch.DB(e.prefix + "subjects")

	t.Run("namespaces", func(t *testing.T) {
		ns, _, err := e.wsk.Namespaces.List()
		require.NoError(t, err)
		require.Len(t, ns, 1)
		require.Equal(t, "guest", ns[0].Name)
	})

	t.Run("default limits", func(t *testing.T) {
		r := e.guest(http.MethodGet, "/api/v1/namespaces/_/limits", nil)
		require.Equal(t, http.StatusOK, r.status)
		require.JSONEq(t, `{"invocationsPerMinute":60,"concurrentInvocations":30,"firesPerMinute":60,
			"minActionMemory":128,"maxActionMemory":512,"minActionLogs":0,"maxActionLogs":10,
			"minActionTimeout":100,"maxActionTimeout":300000,"minActionConcurrency":1,"maxActionConcurrency":1,
			"maxParameterSize":"1048576 B","maxActionInstances":30}`, string(r.body))
	})

	t.Run("a namespace limits document widens memory", func(t *testing.T) {
		_, err := subjects.Put(t.Context(), "guest/limits", entity.NamespaceLimits{MaxActionMemory: intp(1024)})
		require.NoError(t, err)
		r := e.guest(http.MethodPut, "/api/v1/namespaces/_/actions/big",
			map[string]any{"exec": map[string]any{"kind": "nodejs:default", "code": helloJS}, "limits": map[string]any{"memory": 1024}})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r = e.guest(http.MethodGet, "/api/v1/namespaces/_/limits", nil)
		var v namespaceLimitsView
		r.json(t, &v)
		require.Equal(t, 1024, v.MaxActionMemory)
	})

	t.Run("a namespace with no invocations left is refused", func(t *testing.T) {
		var l map[string]any
		require.NoError(t, subjects.Get(t.Context(), "guest/limits").ScanDoc(&l))
		l["invocationsPerMinute"] = 0
		_, err := subjects.Put(t.Context(), "guest/limits", l)
		require.NoError(t, err)
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/big?blocking=true", nil)
		require.Equal(t, http.StatusTooManyRequests, r.status)
		require.Equal(t, "Too many requests in the last minute (count: 1, allowed: 0).", r.errorBody(t))
	})

	t.Run("a blocked subject cannot authenticate", func(t *testing.T) {
		var s entity.Subject
		require.NoError(t, subjects.Get(t.Context(), "guest").ScanDoc(&s))
		s.Blocked = true
		_, err := subjects.Put(t.Context(), "guest", s)
		require.NoError(t, err)
		r := e.do(http.MethodGet, "/api/v1/namespaces", seed.GuestAuth, nil)
		require.Equal(t, http.StatusUnauthorized, r.status)
		require.Equal(t, msgAuthRejected, r.errorBody(t))
	})

	t.Run("REST CORS preflight", func(t *testing.T) {
		r := e.do(http.MethodOptions, "/api/v1/namespaces/_/actions", "", nil)
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, "*", r.header.Get("Access-Control-Allow-Origin"))
	})
}
