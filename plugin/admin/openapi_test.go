package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"
)

type openAPIDocument struct {
	OpenAPI string                                 `json:"openapi"`
	Paths   map[string]map[string]openAPIOperation `json:"paths"`
}

type openAPIOperation struct {
	OperationID string                     `json:"operationId"`
	Security    *[]map[string][]string     `json:"security"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

// TestOpenAPIMatchesRouter walks the router and checks that every route is
// in the served document with its operationId, and that the document has
// no route the router lacks.
func TestOpenAPIMatchesRouter(t *testing.T) {
	a := newTestAPI(t, nil)
	r := a.do(t, "GET", "/v1/openapi.json", "", nil)
	require.Equal(t, http.StatusOK, r.status)
	var doc openAPIDocument
	require.NoError(t, json.Unmarshal(r.body, &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."), "openapi %q", doc.OpenAPI)

	inRouter := map[string]string{} // "GET /path" -> operationId
	require.NoError(t, a.router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			return fmt.Errorf("route %s has no methods: %w", path, err)
		}
		for _, m := range methods {
			inRouter[m+" "+template(path)] = route.GetName()
		}
		return nil
	}))
	require.Len(t, inRouter, len(routes))

	inDoc := map[string]string{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			inDoc[strings.ToUpper(method)+" "+path] = op.OperationID
		}
	}
	for k, op := range inRouter {
		require.Contains(t, inDoc, k, "route missing from openapi.json")
		require.Equal(t, op, inDoc[k], "operationId of %s", k)
	}
	for k := range inDoc {
		require.Contains(t, inRouter, k, "openapi.json describes a route the router lacks")
	}
}

// TestOpenAPIDescribesAuthAndErrors checks the policy the router applies:
// public routes declare no security, admin-only routes the admin token,
// the others the document's; all but the public declare 401 and 403.
func TestOpenAPIDescribesAuthAndErrors(t *testing.T) {
	var doc openAPIDocument
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	for _, rt := range routes {
		t.Run(rt.op, func(t *testing.T) {
			op := doc.Paths[template(rt.path)][strings.ToLower(rt.method)]
			if rt.public {
				require.NotNil(t, op.Security)
				require.Empty(t, *op.Security)
				return
			}
			if rt.admin {
				require.NotNil(t, op.Security, "admin-only routes declare their security")
				require.Equal(t, []map[string][]string{{"adminToken": {}}}, *op.Security)
				for _, code := range []string{"401", "403", "501"} {
					require.Contains(t, op.Responses, code)
				}
				return
			}
			require.Nil(t, op.Security, "authenticated routes use the document's security")
			for _, code := range []string{"401", "403", "404", "501"} {
				require.Contains(t, op.Responses, code)
			}
		})
	}
}

// TestOpenAPIRefsResolve checks that every $ref names a component.
func TestOpenAPIRefsResolve(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if s, ok := c.(string); ok && k == "$ref" {
					refs = append(refs, s)
				}
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(doc)
	require.NotEmpty(t, refs)
	components := doc["components"].(map[string]any)
	for _, ref := range slices.Compact(slices.Sorted(slices.Values(refs))) {
		parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
		require.Len(t, parts, 2, ref)
		group, ok := components[parts[0]].(map[string]any)
		require.True(t, ok, ref)
		require.Contains(t, group, parts[1], ref)
	}
}
