package controller

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
)

func TestPackages(t *testing.T) {
	e := newEnv(t)
	fi := e.startFakeInvoker(echo, ackCombined)
	code := helloJS

	t.Run("create package and packaged action", func(t *testing.T) {
		p, _, err := e.wsk.Packages.Insert(&whisk.Package{Name: "demo",
			Parameters: whisk.KeyValueArr{{Key: "greeting", Value: "hi"}, {Key: "from", Value: "package"}}}, false)
		require.NoError(t, err)
		require.Equal(t, "0.0.1", p.Version)
		doc := e.rawDoc("guest/demo")
		require.Equal(t, map[string]any{}, doc["binding"])
		require.Equal(t, "package", doc["entityType"])
		a, _, err := e.wsk.Actions.Insert(&whisk.Action{Name: "demo/hello", Exec: &whisk.Exec{Kind: "python:default", Code: &code},
			Parameters: whisk.KeyValueArr{{Key: "name", Value: "x"}}}, false)
		require.NoError(t, err)
		require.Equal(t, "guest/demo", a.Namespace)
		require.Equal(t, "python:3", a.Exec.Kind)
		require.Equal(t, "guest/demo", e.rawDoc("guest/demo/hello")["namespace"])
	})

	t.Run("binding", func(t *testing.T) {
		r := e.guest(http.MethodPut, "/api/v1/namespaces/_/packages/b", map[string]any{
			"binding":    map[string]any{"namespace": "_", "name": "demo"},
			"parameters": []map[string]any{{"key": "greeting", "value": "hello"}, {"key": "extra", "value": 1}},
		})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		doc := e.rawDoc("guest/b")
		require.Equal(t, map[string]any{"namespace": "guest", "name": "demo"}, doc["binding"])
		require.Contains(t, doc["annotations"], map[string]any{"key": "binding", "value": map[string]any{"namespace": "guest", "name": "demo"}})
	})

	t.Run("get package lists its actions; a binding shows the package", func(t *testing.T) {
		r := e.guest(http.MethodGet, "/api/v1/namespaces/_/packages/demo", nil)
		require.Equal(t, http.StatusOK, r.status)
		var v packageView
		r.json(t, &v)
		require.Len(t, *v.Actions, 1)
		require.Equal(t, "hello", (*v.Actions)[0].Name)
		r = e.guest(http.MethodGet, "/api/v1/namespaces/_/packages/b", nil)
		r.json(t, &v)
		require.Equal(t, "demo", v.Name)
		got, _ := v.Parameters.String("greeting")
		require.Equal(t, "hi", got, "the package's own parameters win in GET")
	})

	t.Run("list packages and actions", func(t *testing.T) {
		pkgs, _, err := e.wsk.Packages.List(&whisk.PackageListOptions{})
		require.NoError(t, err)
		require.Len(t, pkgs, 2)
		list, _, err := e.wsk.Actions.List("demo", &whisk.ActionListOptions{})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "guest/demo", list[0].Namespace)
		list, _, err = e.wsk.Actions.List("b", &whisk.ActionListOptions{})
		require.NoError(t, err)
		require.Len(t, list, 1, "listing a binding lists the package's actions")
		list, _, err = e.wsk.Actions.List("", &whisk.ActionListOptions{})
		require.NoError(t, err)
		require.Len(t, list, 1, "a namespace list includes packaged actions")
	})

	t.Run("invoke through a binding merges parameters", func(t *testing.T) {
		r := e.guest(http.MethodPost, "/api/v1/namespaces/_/actions/b/hello?blocking=true&result=true", map[string]any{"p": 1})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.JSONEq(t, `{"greeting":"hello","from":"package","extra":1,"name":"x","p":1}`, string(r.body))
		msg := fi.next(t)
		require.Equal(t, entity.FullyQualifiedName{Path: "guest/demo", Name: "hello", Version: "0.0.1", Binding: "guest/b"}, msg.Action)
		r = e.guest(http.MethodGet, "/api/v1/namespaces/_/actions/demo/hello", nil)
		var v entity.ActionView
		r.json(t, &v)
		g, _ := v.Parameters.String("greeting")
		require.Equal(t, "hi", g, "GET merges the package's parameters")
	})

	t.Run("errors", func(t *testing.T) {
		cases := []struct {
			name, method, path string
			body               any
			status             int
			msg                string
		}{
			{"reserved name", "PUT", "/api/v1/namespaces/_/packages/default", map[string]any{}, 400, "Package name 'default' is reserved."},
			{"binding to nothing", "PUT", "/api/v1/namespaces/_/packages/b2", map[string]any{"binding": map[string]any{"namespace": "guest", "name": "nope"}}, 400, msgBindingNotExist},
			{"binding to a binding", "PUT", "/api/v1/namespaces/_/packages/b3", map[string]any{"binding": map[string]any{"namespace": "guest", "name": "b"}}, 400, msgBindingToBinding},
			{"package into binding", "PUT", "/api/v1/namespaces/_/packages/demo?overwrite=true", map[string]any{"binding": map[string]any{"namespace": "guest", "name": "demo"}}, 409, msgPackageToBinding},
			{"action in a binding", "PUT", "/api/v1/namespaces/_/actions/b/x", map[string]any{"exec": map[string]any{"kind": "nodejs:default", "code": "x"}}, 400, msgNotAllowedOnBinding},
			{"action in a missing package", "PUT", "/api/v1/namespaces/_/actions/nopkg/x", map[string]any{"exec": map[string]any{"kind": "nodejs:default", "code": "x"}}, 404, msgNotFound},
			{"binding to another namespace", "PUT", "/api/v1/namespaces/_/packages/b4", map[string]any{"binding": map[string]any{"namespace": "other", "name": "pkg"}}, 403,
				"The supplied authentication is not authorized to access 'other/pkg'."},
			{"non-empty package", "DELETE", "/api/v1/namespaces/_/packages/demo", nil, 409, "Package not empty (contains 1 entity)"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.guest(c.method, c.path, c.body)
				require.Equal(t, c.status, r.status, "%s", r.body)
				require.Equal(t, c.msg, r.errorBody(t))
			})
		}
	})

	t.Run("update and delete", func(t *testing.T) {
		p, _, err := e.wsk.Packages.Insert(&whisk.Package{Name: "demo", Publish: new(bool)}, true)
		require.NoError(t, err)
		require.Equal(t, "0.0.2", p.Version)
		require.Len(t, p.Parameters, 2, "parameters kept")
		_, err = e.wsk.Actions.Delete("demo/hello")
		require.NoError(t, err)
		r := e.guest(http.MethodDelete, "/api/v1/namespaces/_/packages/b", nil)
		require.Equal(t, http.StatusOK, r.status)
		_, err = e.wsk.Packages.Delete("demo")
		require.NoError(t, err)
		r = e.guest(http.MethodGet, "/api/v1/namespaces/_/packages", nil)
		var list []json.RawMessage
		r.json(t, &list)
		require.Empty(t, list)
	})
}
