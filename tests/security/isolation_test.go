package security

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/tests/stackenv"
)

// tenant is a second subject, owning namespace tenantNS; the guest (the
// stack's own key) tries to reach it.
const tenantNS = "tenant-b"

// openAPIRoute is one operation of the admin API's served description.
type openAPIRoute struct {
	method, path string
	public       bool
}

// servedRoutes reads GET /v1/openapi.json: every route the admin API
// serves (docs test the description against the router), so that a route
// added later is tried here without a change.
func servedRoutes(t *testing.T, e *stackenv.Env) []openAPIRoute {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]struct {
			Security *[]map[string][]string `json:"security"`
		} `json:"paths"`
	}
	require.Equal(t, http.StatusOK, e.Admin(t, stackenv.AsNone, "GET", "/v1/openapi.json", nil, &doc))
	var out []openAPIRoute
	for path, ops := range doc.Paths {
		for method, op := range ops {
			m := strings.ToUpper(method)
			if m != "GET" && m != "POST" && m != "PUT" && m != "DELETE" {
				continue
			}
			out = append(out, openAPIRoute{method: m, path: path, public: op.Security != nil && len(*op.Security) == 0})
		}
	}
	require.Greater(t, len(out), 20, "the description lists the admin API's routes")
	return out
}

var pathVarRE = regexp.MustCompile(`\{(\w+)\}`)

// fill puts values into a route's path variables.
func fill(t *testing.T, path string, values map[string]string) string {
	t.Helper()
	return pathVarRE.ReplaceAllStringFunc(path, func(v string) string {
		val, ok := values[v[1:len(v)-1]]
		require.True(t, ok, "no value for %s in %s: add one", v, path)
		return val
	})
}

// TestAdminIsolationOnEveryServedRoute: against the running fnmgr (its
// real subjects lookup), every non-public route answers 401 without
// credentials, 403 to the guest's key on the tenant's namespace, and lets
// the tenant's key and the admin token through (any answer but 401 and
// 403). Requests that get through name a function that does not exist or
// carry an invalid body, so that they change nothing.
func TestAdminIsolationOnEveryServedRoute(t *testing.T) {
	e := stackenv.Need(t, env)
	owner := e.NewSubject(t, tenantNS)
	vals := map[string]string{"ns": tenantNS, "fn": "ghost", "n": "1", "alias": "prod", "id": "o1"}
	for _, rt := range servedRoutes(t, e) {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			path := fill(t, rt.path, vals)
			body := map[string]any{"bogus": true}
			call := func(cred string) (int, []byte) {
				if rt.method == "GET" || rt.method == "DELETE" {
					return e.AdminRaw(t, cred, rt.method, path, nil)
				}
				return e.AdminRaw(t, cred, rt.method, path, body)
			}
			if rt.public {
				status, _ := call(stackenv.AsNone)
				require.NotContains(t, []int{401, 403}, status)
				return
			}
			status, b := call(stackenv.AsNone)
			require.Equal(t, http.StatusUnauthorized, status, "%s", b)
			status, b = call(e.EP.Auth)
			require.Equal(t, http.StatusForbidden, status, "the guest's key on %s: %s", tenantNS, b)
			require.NotContains(t, string(b), "ghost", "a refusal says nothing about the function")
			status, b = call(stackenv.AsAdmin)
			require.NotContains(t, []int{401, 403}, status, "the admin token reaches %s: %s", tenantNS, b)
			if strings.Contains(rt.path, "{ns}") {
				status, b = call(owner)
				require.NotContains(t, []int{401, 403}, status, "the owner's key reaches %s: %s", tenantNS, b)
			} else {
				status, _ = call(owner)
				require.Equal(t, http.StatusForbidden, status, "a subject key on a deployment-wide route")
			}
		})
	}
}

// TestGatewayIsolation: a key of one namespace cannot invoke, write or
// alias-route another namespace's function through the gateway: the
// controller answers 403 (401 without credentials), the gateway passes
// exactly that on, and never reveals the function's state, not even when
// the function is BLOCKED (the owner gets 423 for it).
func TestGatewayIsolation(t *testing.T) {
	e := stackenv.Need(t, env)
	owner := e.NewSubject(t, tenantNS+"-gw")
	ns := tenantNS + "-gw"
	own := e.Wsk(t, e.EP.APIHost, owner)
	stackenv.CreateAction(t, own, "payroll", "nodejs:default", "function main(){ return {secret: 'payroll-ran'} }", false)
	e.WaitFn(t, ns, "payroll", 10*time.Second, func(f stackenv.Function) bool { return f.Head.Revision == 1 })
	require.Equal(t, http.StatusCreated, e.Admin(t, owner, "POST", stackenv.FnPath(ns, "payroll")+"/versions", nil, nil))
	require.Equal(t, http.StatusOK, e.Admin(t, owner, "PUT", stackenv.FnPath(ns, "payroll")+"/aliases/prod", map[string]any{"version": 1}, nil))

	base := "/api/v1/namespaces/" + ns + "/actions/"
	calls := []struct{ method, path string }{
		{"POST", base + "payroll?blocking=true&result=true"},
		{"POST", base + "payroll@1?blocking=true&result=true"},
		{"POST", base + "payroll@prod?blocking=true&result=true"},
		{"POST", base + "payroll"},
		{"PUT", base + "payroll?overwrite=true"},
		{"DELETE", base + "payroll@prod"},
		{"GET", base + "payroll"},
	}
	body := []byte(`{"exec":{"kind":"nodejs:default","code":"function main(){return {pwned:true}}"}}`)
	// Every call is checked (assert, not require), so that one run lists
	// every leak.
	check := func(t *testing.T, blocked bool) {
		for _, c := range calls {
			for _, cred := range []string{e.EP.Auth, stackenv.AsNone} {
				direct, dbody := e.Call(t, cred, c.method, e.EP.APIHost, c.path, body)
				via, vbody := e.Call(t, cred, c.method, e.EP.Gateway, c.path, body)
				who := "the guest's key"
				want := http.StatusForbidden
				if cred == stackenv.AsNone {
					who, want = "no credentials", http.StatusUnauthorized
				}
				what := fmt.Sprintf("%s %s with %s (blocked %v)", c.method, c.path, who, blocked)
				assert.Equal(t, want, direct, "%s, at the controller: %s", what, dbody)
				assert.Equal(t, direct, via, "%s: the gateway must pass the controller's answer on: %s", what, vbody)
				assert.Equal(t, errorText(t, dbody), errorText(t, vbody), "%s: the gateway's answer differs", what)
				for _, leak := range []string{"BLOCKED", "payroll-ran", "fnmgr"} {
					assert.NotContains(t, string(vbody), leak, what)
				}
			}
		}
	}
	t.Run("runnable", func(t *testing.T) { check(t, false) })

	require.Equal(t, http.StatusOK, e.Admin(t, owner, "POST", stackenv.FnPath(ns, "payroll")+"/block", map[string]any{"reason": "audit"}, nil))
	require.Eventually(t, func() bool {
		status, _ := e.Call(t, owner, "POST", e.EP.Gateway, base+"payroll?blocking=true", nil)
		return status == http.StatusLocked
	}, 10*time.Second, 20*time.Millisecond, "the owner sees the block through the gateway")
	t.Run("blocked", func(t *testing.T) { check(t, true) })

	// Nothing the guest sent reached the tenant's action.
	res, _, err := own.Actions.Get("payroll", true)
	require.NoError(t, err)
	code, _ := json.Marshal(res.Exec.Code)
	require.False(t, bytes.Contains(code, []byte("pwned")), "the guest rewrote the tenant's action")
}

// errorText is the error sentence of an OpenWhisk error body (its request
// code differs between two calls).
func errorText(t *testing.T, b []byte) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) != nil {
		return string(b)
	}
	return e.Error
}
