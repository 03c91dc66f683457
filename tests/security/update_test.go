package security

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/tests/stackenv"
)

// TestUpdateKeepsOpenWhiskRules: fnmgr writes an update into CouchDB
// itself, past the controller's checks, so it must apply them: limits out
// of the deployment's range and a runtime kind the deployment does not
// offer are refused with 400, as `wsk action update` would be, and the
// function is left as it was.
func TestUpdateKeepsOpenWhiskRules(t *testing.T) {
	e := stackenv.Need(t, env)
	c := e.Wsk(t, e.EP.APIHost, e.EP.Auth)
	const name = "rules"
	stackenv.CreateAction(t, c, name, "nodejs:default", "function main(){ return {v: 1} }", false)
	before := e.WaitFn(t, "guest", name, 10*time.Second, func(f stackenv.Function) bool { return f.Head.Revision == 1 })
	tests := []struct {
		name string
		body map[string]any
	}{
		{"memory below the minimum", map[string]any{"limits": map[string]any{"memory": 1}}},
		{"memory above the maximum", map[string]any{"limits": map[string]any{"memory": 100000}}},
		{"timeout zero", map[string]any{"limits": map[string]any{"timeout": 0}}},
		{"timeout above the maximum", map[string]any{"limits": map[string]any{"timeout": 3600000}}},
		{"logs above the maximum", map[string]any{"limits": map[string]any{"logs": 1000}}},
		{"unknown runtime kind", map[string]any{"exec": map[string]any{"kind": "cobol:85", "code": "IDENTIFICATION DIVISION."}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, b := e.AdminRaw(t, e.EP.Auth, "POST", stackenv.FnPath("guest", name)+"/update", tc.body)
			require.Equal(t, http.StatusBadRequest, status, "%s", b)
			var f stackenv.Function
			require.Equal(t, http.StatusOK, e.Admin(t, stackenv.AsAdmin, "GET", stackenv.FnPath("guest", name), nil, &f))
			require.Equal(t, before.Head.Digest, f.Head.Digest, "a refused update changes nothing")
			require.Equal(t, "LATEST", f.State)
		})
	}
	res, _, err := c.Actions.Invoke(name, nil, true, true)
	require.NoError(t, err, "the action still runs")
	require.Equal(t, "1", fmt.Sprint(res.(map[string]any)["v"]))
}
