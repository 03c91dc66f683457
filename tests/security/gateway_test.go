package security

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/tests/stackenv"
)

// TestGatewayFailsClosed: while the subjects database does not answer, the
// gateway cannot check a caller, so it cannot tell whether the function
// may run: it refuses with 503 and a Retry-After (the default; only
// --gateway-fail-open lets such calls through, a unit test covers that)
// rather than proxying a call to a BLOCKED function. Once CouchDB is back,
// the lifecycle refusal returns.
func TestGatewayFailsClosed(t *testing.T) {
	e := stackenv.Need(t, env)
	c := e.Wsk(t, e.EP.APIHost, e.EP.Auth)
	const name = "failclosed"
	stackenv.CreateAction(t, c, name, "nodejs:default", "function main(){ return {ran: true} }", true)
	e.WaitFn(t, "guest", name, 15*time.Second, func(f stackenv.Function) bool { return f.Head.Revision >= 1 })
	status, b := e.AdminRaw(t, e.EP.Auth, "POST", stackenv.FnPath("guest", name)+"/block", map[string]any{"reason": "fail-closed test"})
	require.Equal(t, http.StatusOK, status, "%s", b)
	invoke := func() *http.Response {
		req, err := http.NewRequest("POST", e.EP.Gateway+"/api/v1/namespaces/_/actions/"+name+"?blocking=true", nil)
		require.NoError(t, err)
		stackenv.SetAuth(req, e.EP.Auth, "")
		resp, err := e.HTTP.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	require.Eventually(t, func() bool { return invoke().StatusCode == http.StatusLocked }, 15*time.Second, 100*time.Millisecond)

	require.NoError(t, e.Stack.KillCouchDB())
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = e.Stack.StartCouchDB(ctx)
		}
	})
	// Once the cached key expires the gateway must ask CouchDB, and fails.
	var resp *http.Response
	var passed []int // statuses other than the gateway's refusals
	require.Eventually(t, func() bool {
		resp = invoke()
		if resp.StatusCode != http.StatusLocked && resp.StatusCode != http.StatusServiceUnavailable {
			passed = append(passed, resp.StatusCode)
		}
		return resp.StatusCode == http.StatusServiceUnavailable
	}, keyCacheTTL+10*time.Second, 100*time.Millisecond, "the gateway does not refuse while it cannot check callers")
	require.Empty(t, passed, "calls to a BLOCKED function reached the controller")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.Positive(t, e.Metric(t, "fnmgr_gateway_credential_lookup_failures_total", "action=refused"))
	// The failed lookups are logged, without the key (the view is queried
	// by [uuid, key]: a transport error's URL holds it).
	log, err := os.ReadFile(e.FnmgrLog)
	require.NoError(t, err)
	require.Contains(t, string(log), "credential lookup failed; refusing the call")
	_, key, _ := strings.Cut(e.EP.Auth, ":")
	require.NotContains(t, string(log), key, "fnmgr's log holds the caller's key")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, e.Stack.StartCouchDB(ctx))
	restarted = true
	require.Eventually(t, func() bool { return invoke().StatusCode == http.StatusLocked }, 30*time.Second, 200*time.Millisecond)
}
