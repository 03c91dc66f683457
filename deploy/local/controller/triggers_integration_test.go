package controller

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
)

func TestTriggersAndRules(t *testing.T) {
	e := newEnv(t)
	fi := e.startFakeInvoker(echo, ackCombined)
	e.putHello("hello", whisk.KeyValueArr{{Key: "name", Value: "World"}}, nil)

	t.Run("trigger CRUD", func(t *testing.T) {
		tr, _, err := e.wsk.Triggers.Insert(&whisk.Trigger{Name: "t", Parameters: whisk.KeyValueArr{{Key: "source", Value: "cron"}}}, false)
		require.NoError(t, err)
		require.Equal(t, "0.0.1", tr.Version)
		doc := e.rawDoc("guest/t")
		require.Equal(t, "trigger", doc["entityType"])
		require.Equal(t, map[string]any{}, doc["limits"])
		require.NotContains(t, doc, "rules")
		tr, _, err = e.wsk.Triggers.Insert(&whisk.Trigger{Name: "t"}, true)
		require.NoError(t, err)
		require.Equal(t, "0.0.2", tr.Version)
		require.Len(t, tr.Parameters, 1)
		_, _, err = e.wsk.Triggers.Insert(&whisk.Trigger{Name: "t"}, false)
		require.Error(t, err)
	})

	t.Run("fire without rules is 204", func(t *testing.T) {
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/triggers/t", map[string]any{})
		require.Equal(t, http.StatusNoContent, r.status)
		require.Empty(t, r.body)
	})

	t.Run("rule create links the trigger", func(t *testing.T) {
		r := e.guest(http.MethodPut, "/api/v1/namespaces/_/rules/r?overwrite=false",
			map[string]any{"name": "r", "status": "", "trigger": "/_/t", "action": "/_/hello"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var v entity.RuleView
		r.json(t, &v)
		require.Equal(t, "active", v.Status)
		require.Equal(t, entity.FullyQualifiedName{Path: "guest", Name: "t"}, v.Trigger)
		require.Equal(t, entity.FullyQualifiedName{Path: "guest", Name: "hello"}, v.Action)
		doc := e.rawDoc("guest/r")
		require.Equal(t, "rule", doc["entityType"])
		require.NotContains(t, doc, "status")
		trig := e.rawDoc("guest/t")
		require.Equal(t, map[string]any{"guest/r": map[string]any{"action": map[string]any{"path": "guest", "name": "hello"}, "status": "active"}}, trig["rules"])
		require.Equal(t, "0.0.2", trig["version"], "linking does not bump the trigger")
		rule, _, err := e.wsk.Rules.Get("r")
		require.NoError(t, err)
		require.Equal(t, "active", rule.Status)
	})

	t.Run("rule on another namespace's trigger", func(t *testing.T) {
		r := e.guest(http.MethodPut, "/api/v1/namespaces/_/rules/bad", map[string]any{"trigger": "/other/t", "action": "/_/hello"})
		require.Equal(t, http.StatusForbidden, r.status)
		require.Equal(t, "The supplied authentication is not authorized to access 'other/t'.", r.errorBody(t))
	})

	t.Run("rule errors", func(t *testing.T) {
		for _, c := range []struct {
			name string
			body map[string]any
			msg  string
		}{
			{"missing trigger", map[string]any{"trigger": "/_/nope", "action": "/_/hello"}, "trigger /guest/nope does not exist"},
			{"missing action", map[string]any{"trigger": "/_/t", "action": "/_/nope"}, "action /guest/nope does not exist"},
			{"incomplete", map[string]any{"trigger": "/_/t"}, msgRuleNeedsBoth},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := e.guest(http.MethodPut, "/api/v1/namespaces/_/rules/bad", c.body)
				require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
				require.Equal(t, c.msg, r.errorBody(t))
			})
		}
	})

	t.Run("fire invokes the rule's action through the API", func(t *testing.T) {
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/triggers/t", map[string]any{"temperature": 21})
		require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
		var v entity.ActivationID
		r.json(t, &v)
		require.Equal(t, v.ActivationID, r.header.Get(activationIDHeader))
		msg := fi.next(t)
		require.False(t, msg.Blocking)
		require.Empty(t, msg.Cause)
		require.JSONEq(t, `{"name":"World","source":"cron","temperature":21}`, string(msg.Content))
		var act entity.Activation
		require.Eventually(t, func() bool {
			a, err := e.ctl.getActivation(t.Context(), "guest", v.ActivationID)
			act = a
			return err == nil
		}, 10*time.Second, 20*time.Millisecond)
		require.Equal(t, "t", act.Name)
		require.Zero(t, act.End)
		require.Nil(t, act.Duration)
		require.JSONEq(t, `{"temperature":21}`, string(act.Response.Result))
		require.Len(t, act.Logs, 1)
		var line map[string]any
		require.NoError(t, json.Unmarshal([]byte(act.Logs[0]), &line))
		require.Equal(t, map[string]any{"statusCode": float64(0), "success": true, "activationId": msg.ActivationID,
			"rule": "guest/r", "action": "guest/hello"}, line)
	})

	t.Run("disable and enable", func(t *testing.T) {
		_, _, err := e.wsk.Rules.SetState("r", "inactive")
		require.NoError(t, err)
		rule, _, err := e.wsk.Rules.Get("r")
		require.NoError(t, err)
		require.Equal(t, "inactive", rule.Status)
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/triggers/t", map[string]any{})
		require.Equal(t, http.StatusNoContent, r.status)
		r = e.guest(http.MethodPost, "/api/v1/namespaces/_/rules/r", map[string]any{"status": "inactive"})
		require.Equal(t, http.StatusOK, r.status, "same state is fine")
		r = e.guest(http.MethodPost, "/api/v1/namespaces/_/rules/r", map[string]any{"status": "sleepy"})
		require.Equal(t, http.StatusBadRequest, r.status)
		_, _, err = e.wsk.Rules.SetState("r", "active")
		require.NoError(t, err)
		rule, _, err = e.wsk.Rules.Get("r")
		require.NoError(t, err)
		require.Equal(t, "active", rule.Status)
	})

	t.Run("list", func(t *testing.T) {
		rules, _, err := e.wsk.Rules.List(&whisk.RuleListOptions{})
		require.NoError(t, err)
		require.Len(t, rules, 1)
		trigs, _, err := e.wsk.Triggers.List(&whisk.TriggerListOptions{})
		require.NoError(t, err)
		require.Len(t, trigs, 1)
	})

	t.Run("rule update keeps its status, delete unlinks", func(t *testing.T) {
		e.putHello("other", nil, nil)
		r := e.guest(http.MethodPut, "/api/v1/namespaces/_/rules/r?overwrite=true", map[string]any{"action": "/_/other"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var v entity.RuleView
		r.json(t, &v)
		require.Equal(t, "0.0.2", v.Version)
		require.Equal(t, "active", v.Status)
		require.Equal(t, "other", v.Action.Name)
		r = e.guest(http.MethodDelete, "/api/v1/namespaces/_/rules/r", nil)
		require.Equal(t, http.StatusOK, r.status)
		r.json(t, &v)
		require.Equal(t, "inactive", v.Status)
		require.Equal(t, map[string]any{}, e.rawDoc("guest/t")["rules"])
		_, _, err := e.wsk.Triggers.Delete("t")
		require.NoError(t, err)
	})
}
