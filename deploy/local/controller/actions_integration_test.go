package controller

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
)

const helloJS = "function main(params) {\n  return { payload: 'Hello, ' + (params.name || 'World') };\n}\n"

func intp(v int) *int { return &v }

func annotationValue(kv whisk.KeyValueArr, key string) any {
	for _, p := range kv {
		if p.Key == key {
			return p.Value
		}
	}
	return nil
}

func TestActionsCRUD(t *testing.T) {
	e := newEnv(t)
	code := helloJS
	act := &whisk.Action{
		Name:        "hello",
		Exec:        &whisk.Exec{Kind: "nodejs:default", Code: &code},
		Parameters:  whisk.KeyValueArr{{Key: "name", Value: "World"}},
		Annotations: whisk.KeyValueArr{{Key: "web-export", Value: true}, {Key: "exec", Value: "bogus"}},
		Limits:      &whisk.Limits{Memory: intp(512)},
	}

	t.Run("create", func(t *testing.T) {
		got, _, err := e.wsk.Actions.Insert(act, false)
		require.NoError(t, err)
		require.Equal(t, "guest", got.Namespace)
		require.Equal(t, "0.0.1", got.Version)
		require.Equal(t, "nodejs:20", got.Exec.Kind)
		require.Equal(t, helloJS, *got.Exec.Code)
		require.False(t, *got.Exec.Binary)
		require.Equal(t, 512, *got.Limits.Memory)
		require.Equal(t, 60000, *got.Limits.Timeout)
		require.Equal(t, false, annotationValue(got.Annotations, "provide-api-key"))
		require.Equal(t, "nodejs:20", annotationValue(got.Annotations, "exec"))
		require.Equal(t, true, annotationValue(got.Annotations, "web-export"))
	})

	t.Run("stored as OpenWhisk stores it", func(t *testing.T) {
		doc := e.rawDoc("guest/hello")
		require.Equal(t, "action", doc["entityType"])
		require.Equal(t, "guest", doc["namespace"])
		require.NotZero(t, doc["updated"])
		exec := doc["exec"].(map[string]any)
		ref := exec["code"].(map[string]any)
		require.Equal(t, entity.MemName([]byte(helloJS)), ref["attachmentName"])
		require.Equal(t, entity.TextContentType, ref["attachmentType"])
		require.EqualValues(t, len(helloJS), ref["length"])
		require.Equal(t, entity.Digest([]byte(helloJS)), ref["digest"])
		require.Equal(t, false, exec["binary"])
	})

	t.Run("exists without overwrite", func(t *testing.T) {
		r := e.guest(http.MethodPut, "/api/v1/namespaces/_/actions/hello?overwrite=false",
			map[string]any{"exec": map[string]any{"kind": "nodejs:default", "code": helloJS}})
		require.Equal(t, http.StatusConflict, r.status)
		require.Equal(t, "resource already exists", r.errorBody(t))
	})

	t.Run("update merges limits and bumps the patch version", func(t *testing.T) {
		got, _, err := e.wsk.Actions.Insert(&whisk.Action{Name: "hello", Limits: &whisk.Limits{Timeout: intp(3000)}}, true)
		require.NoError(t, err)
		require.Equal(t, "0.0.2", got.Version)
		require.Equal(t, 512, *got.Limits.Memory)
		require.Equal(t, 3000, *got.Limits.Timeout)
		require.Equal(t, helloJS, *got.Exec.Code)
		require.Equal(t, "World", annotationValue(got.Parameters, "name"))
	})

	t.Run("get with and without code", func(t *testing.T) {
		got, _, err := e.wsk.Actions.Get("hello", false)
		require.NoError(t, err)
		require.Nil(t, got.Exec.Code)
		got, _, err = e.wsk.Actions.Get("hello", true)
		require.NoError(t, err)
		require.Equal(t, helloJS, *got.Exec.Code)
	})

	t.Run("large code is a couch attachment written in two revisions", func(t *testing.T) {
		big := "// " + strings.Repeat("x", 20*1024) + "\n" + helloJS
		_, _, err := e.wsk.Actions.Insert(&whisk.Action{Name: "big", Exec: &whisk.Exec{Kind: "nodejs:20", Code: &big}}, false)
		require.NoError(t, err)
		doc := e.rawDoc("guest/big")
		require.True(t, strings.HasPrefix(doc["_rev"].(string), "2-"), "rev %v", doc["_rev"])
		ref := doc["exec"].(map[string]any)["code"].(map[string]any)
		name := ref["attachmentName"].(string)
		require.True(t, strings.HasPrefix(name, entity.CouchPrefix), name)
		require.NotContains(t, ref, "length")
		atts := doc["_attachments"].(map[string]any)
		require.Contains(t, atts, strings.TrimPrefix(name, entity.CouchPrefix))
		got, _, err := e.wsk.Actions.Get("big", true)
		require.NoError(t, err)
		require.Equal(t, big, *got.Exec.Code)
		// An update writes the code again under a fresh attachment.
		_, _, err = e.wsk.Actions.Insert(&whisk.Action{Name: "big", Limits: &whisk.Limits{Memory: intp(128)}}, true)
		require.NoError(t, err)
		doc = e.rawDoc("guest/big")
		name2 := doc["exec"].(map[string]any)["code"].(map[string]any)["attachmentName"].(string)
		require.NotEqual(t, name, name2)
		require.Len(t, doc["_attachments"].(map[string]any), 1)
		got, _, err = e.wsk.Actions.Get("big", true)
		require.NoError(t, err)
		require.Equal(t, big, *got.Exec.Code)
	})

	t.Run("binary code round-trips as base64", func(t *testing.T) {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		fw, err := zw.Create("index.js")
		require.NoError(t, err)
		_, _ = fw.Write([]byte(helloJS))
		require.NoError(t, zw.Close())
		b64 := base64.StdEncoding.EncodeToString(buf.Bytes())
		got, _, err := e.wsk.Actions.Insert(&whisk.Action{Name: "zipped", Exec: &whisk.Exec{Kind: "nodejs:default", Code: &b64}}, false)
		require.NoError(t, err)
		require.True(t, *got.Exec.Binary)
		ref := e.rawDoc("guest/zipped")["exec"].(map[string]any)["code"].(map[string]any)
		require.Equal(t, entity.BinaryContentType, ref["attachmentType"])
		require.Equal(t, entity.MemName(buf.Bytes()), ref["attachmentName"])
		got, _, err = e.wsk.Actions.Get("zipped", true)
		require.NoError(t, err)
		require.Equal(t, b64, *got.Exec.Code)
	})

	t.Run("list newest first with limit, skip and count", func(t *testing.T) {
		list, _, err := e.wsk.Actions.List("", &whisk.ActionListOptions{Limit: 0, Skip: 0})
		require.NoError(t, err)
		var names []string
		for _, a := range list {
			names = append(names, a.Name)
		}
		require.Equal(t, []string{"zipped", "big", "hello"}, names)
		list, _, err = e.wsk.Actions.List("", &whisk.ActionListOptions{Limit: 1, Skip: 1})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "big", list[0].Name)
		r := e.guest(http.MethodGet, "/api/v1/namespaces/_/actions?count=true", nil)
		require.Equal(t, http.StatusOK, r.status)
		require.JSONEq(t, `{"actions":3}`, string(r.body))
	})

	t.Run("delete returns the entity", func(t *testing.T) {
		r := e.guest(http.MethodDelete, "/api/v1/namespaces/_/actions/zipped", nil)
		require.Equal(t, http.StatusOK, r.status)
		var v entity.ActionView
		r.json(t, &v)
		require.Equal(t, "zipped", v.Name)
		require.NotNil(t, v.Exec.Code)
		r = e.guest(http.MethodGet, "/api/v1/namespaces/_/actions/zipped", nil)
		require.Equal(t, http.StatusNotFound, r.status)
		require.Equal(t, msgNotFound, r.errorBody(t))
		// Recreated, it starts again at 0.0.1.
		got, _, err := e.wsk.Actions.Insert(&whisk.Action{Name: "zipped", Exec: &whisk.Exec{Kind: "nodejs:default", Code: &code}}, false)
		require.NoError(t, err)
		require.Equal(t, "0.0.1", got.Version)
	})
}

func TestActionErrors(t *testing.T) {
	e := newEnv(t)
	code := helloJS
	_, _, err := e.wsk.Actions.Insert(&whisk.Action{Name: "hello", Exec: &whisk.Exec{Kind: "nodejs:default", Code: &code}}, false)
	require.NoError(t, err)
	cases := []struct {
		name   string
		method string
		path   string
		auth   string
		body   any
		status int
		msg    string
	}{
		{"no credentials", "GET", "/api/v1/namespaces/_/actions", "-", nil, 401, msgAuthMissing},
		{"wrong key", "GET", "/api/v1/namespaces/_/actions", "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:nope", nil, 401, msgAuthRejected},
		{"other namespace", "GET", "/api/v1/namespaces/other/actions/x", "", nil, 403,
			"The supplied authentication is not authorized to access 'other/x'."},
		{"illegal name", "GET", "/api/v1/namespaces/_/actions/bad%21name", "", nil, 400, msgEntityNameIllegal},
		{"missing", "GET", "/api/v1/namespaces/_/actions/nope", "", nil, 404, msgNotFound},
		{"exec undefined", "PUT", "/api/v1/namespaces/_/actions/noexec", "", map[string]any{}, 400, msgExecUndefined},
		{"memory too large", "PUT", "/api/v1/namespaces/_/actions/mem", "",
			map[string]any{"exec": map[string]any{"kind": "nodejs:default", "code": helloJS}, "limits": map[string]any{"memory": 1024}},
			400, "memory size 1024 MB exceeds allowed threshold of 512 MB"},
		{"timeout too large", "PUT", "/api/v1/namespaces/_/actions/tmo", "",
			map[string]any{"exec": map[string]any{"kind": "nodejs:default", "code": helloJS}, "limits": map[string]any{"timeout": 600000}},
			400, "duration 600000 milliseconds exceeds allowed threshold of 300000 milliseconds"},
		{"memory checked before timeout", "PUT", "/api/v1/namespaces/_/actions/memtmo", "",
			map[string]any{"exec": map[string]any{"kind": "nodejs:default", "code": helloJS}, "limits": map[string]any{"timeout": 600000, "memory": 1024}},
			400, "memory size 1024 MB exceeds allowed threshold of 512 MB"},
		{"memory too small", "PUT", "/api/v1/namespaces/_/actions/mem", "",
			map[string]any{"exec": map[string]any{"kind": "nodejs:default", "code": helloJS}, "limits": map[string]any{"memory": 64}},
			400, "memory size 64 MB below allowed threshold of 128 MB"},
		{"unknown kind", "PUT", "/api/v1/namespaces/_/actions/k", "",
			map[string]any{"exec": map[string]any{"kind": "cobol:1", "code": "x"}}, 400,
			"The request content was malformed:\nkind 'cobol:1' not in Set(nodejs:20, python:3)"},
		{"not json", "PUT", "/api/v1/namespaces/_/actions/nj", "", nil, 400, "Request entity expected but not supplied"},
		{"package is not an action", "GET", "/api/v1/namespaces/_/packages/hello", "", nil, 409, msgConformance},
		{"limit out of range", "GET", "/api/v1/namespaces/_/actions?limit=201", "", nil, 400,
			"The query parameter 'limit' was malformed:\nThe value '201' is not in the range of 0 to 200 for actions."},
		{"bad timeout", "POST", "/api/v1/namespaces/_/actions/hello?blocking=true&timeout=70000", "", nil, 400,
			"The query parameter 'timeout' was malformed:\nTimeout must be number of milliseconds up to 60000."},
		{"payload too large", "POST", "/api/v1/namespaces/_/actions/hello", "",
			`{"a":"` + strings.Repeat("x", 1<<20) + `"}`, 413, "Request larger than allowed: 1048584 > 1048576 bytes."},
		{"no route", "GET", "/api/v1/nothing", "-", nil, 404, msgNoRouteFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			auth := c.auth
			switch auth {
			case "":
				auth = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
			case "-":
				auth = ""
			}
			r := e.do(c.method, c.path, auth, c.body)
			require.Equal(t, c.status, r.status, "body: %s", r.body)
			require.Equal(t, c.msg, r.errorBody(t))
			require.Len(t, r.header.Get("X-Request-ID"), 32)
		})
	}
	t.Run("401 carries the challenge", func(t *testing.T) {
		r := e.do("GET", "/api/v1/namespaces/_/actions", "", nil)
		require.Equal(t, `Basic realm="OpenWhisk secure realm"`, r.header.Get("WWW-Authenticate"))
	})
	t.Run("client-go sees a 404 as an error", func(t *testing.T) {
		_, resp, err := e.wsk.Actions.Get("nope", false)
		require.Error(t, err)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
	})
}
