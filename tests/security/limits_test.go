package security

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/tests/stackenv"
)

// TestRequestSizeLimits: the admin API refuses a body over 1 MB with 413
// (announced or streamed); the gateway keeps no limit of its own but hands
// a large body to the controller, which answers 413 as OpenWhisk does, and
// the gateway passes that answer on; a body under the limit goes through.
func TestRequestSizeLimits(t *testing.T) {
	e := stackenv.Need(t, env)
	c := e.Wsk(t, e.EP.APIHost, e.EP.Auth)
	stackenv.CreateAction(t, c, "sizes", "nodejs:default", "function main(p){ return {n: (p.blob || '').length} }", false)
	e.WaitFn(t, "guest", "sizes", 10*time.Second, func(f stackenv.Function) bool { return f.Head.Revision == 1 })

	over := []byte(`{"blob":"` + strings.Repeat("x", 2<<20) + `"}`)
	under := []byte(`{"blob":"` + strings.Repeat("x", 900<<10) + `"}`)
	invoke := "/api/v1/namespaces/_/actions/sizes?blocking=true&result=true"

	t.Run("admin API", func(t *testing.T) {
		for _, chunked := range []bool{false, true} {
			status, b := send(t, e, e.EP.Admin, "POST", stackenv.FnPath("guest", "sizes")+"/update", over, chunked)
			require.Equal(t, http.StatusRequestEntityTooLarge, status, "chunked %v: %s", chunked, b)
		}
	})
	t.Run("gateway passes the controller's 413 on", func(t *testing.T) {
		for _, chunked := range []bool{false, true} {
			direct, db := send(t, e, e.EP.APIHost, "POST", invoke, over, chunked)
			via, vb := send(t, e, e.EP.Gateway, "POST", invoke, over, chunked)
			require.Equal(t, http.StatusRequestEntityTooLarge, direct, "controller, chunked %v: %s", chunked, db)
			require.Equal(t, direct, via, "gateway, chunked %v: %s", chunked, vb)
			require.Equal(t, errorText(t, db), errorText(t, vb))
		}
	})
	t.Run("a body under the limit goes through", func(t *testing.T) {
		status, b := send(t, e, e.EP.Gateway, "POST", invoke, under, false)
		require.Equal(t, http.StatusOK, status, "%.200s", b)
		require.Contains(t, string(b), `"n":921600`)
	})
}

// send makes one call as the guest; chunked hides the length.
func send(t *testing.T, e *stackenv.Env, base, method, path string, body []byte, chunked bool) (int, []byte) {
	t.Helper()
	var rd io.Reader = bytes.NewReader(body)
	if chunked {
		rd = io.MultiReader(rd) // a length http cannot see: sent chunked
	}
	req, err := http.NewRequest(method, base+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	stackenv.SetAuth(req, e.EP.Auth, "")
	resp, err := e.HTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out bytes.Buffer
	_, err = out.ReadFrom(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, out.Bytes()
}

// TestStubOfAnOutOfBoundsFunctionRuns: an action whose limits the
// deployment refuses (1024 MB written straight into CouchDB where the
// controller allows 512) fails every activation with OpenWhisk's limits
// error. Once fnmgr blocks it, the stub fnmgr writes lies within the
// deployment's limits, so an invocation says the function is BLOCKED; an
// unblock gives the function its own limits back.
func TestStubOfAnOutOfBoundsFunctionRuns(t *testing.T) {
	e := stackenv.Need(t, env)
	c := e.Wsk(t, e.EP.APIHost, e.EP.Auth)
	const name = "oversized"
	stackenv.CreateAction(t, c, name, "nodejs:default", "function main(){ return {ran: true} }", false)
	e.WaitFn(t, "guest", name, 15*time.Second, func(f stackenv.Function) bool { return f.Head.Revision == 1 })

	whisks := e.DB(t, "whisks")
	ctx := t.Context()
	memory := func() int {
		var doc entity.Action
		require.NoError(t, whisks.Get(ctx, "guest/"+name).ScanDoc(&doc))
		return doc.Limits.Memory
	}
	var doc map[string]any
	require.NoError(t, whisks.Get(ctx, "guest/"+name).ScanDoc(&doc))
	doc["limits"].(map[string]any)["memory"] = 1024
	_, err := whisks.Put(ctx, "guest/"+name, doc)
	require.NoError(t, err)
	e.WaitFn(t, "guest", name, 15*time.Second, func(f stackenv.Function) bool { return f.Head.Revision == 2 })

	invoke := "/api/v1/namespaces/_/actions/" + name + "?blocking=true&result=true"
	status, b := e.Call(t, e.EP.Auth, "POST", e.EP.APIHost, invoke, []byte(`{}`))
	require.NotEqual(t, http.StatusOK, status, "%s", b)
	require.Contains(t, string(b), "exceeds allowed threshold", "OpenWhisk's limits error before the block")

	status, b = e.AdminRaw(t, stackenv.AsAdmin, "POST", stackenv.FnPath("guest", name)+"/block", map[string]any{"reason": "oversized"})
	require.Equal(t, http.StatusOK, status, "%s", b)
	require.Equal(t, 512, memory(), "the stub lies within the controller's max_action_memory")
	require.Eventually(t, func() bool {
		_, b = e.Call(t, e.EP.Auth, "POST", e.EP.APIHost, invoke, []byte(`{}`))
		return strings.Contains(string(b), "BLOCKED")
	}, 10*time.Second, 100*time.Millisecond, "the stub does not answer: %s", b)
	require.NotContains(t, string(b), "exceeds allowed threshold")

	status, b = e.AdminRaw(t, stackenv.AsAdmin, "POST", stackenv.FnPath("guest", name)+"/unblock", nil)
	require.Equal(t, http.StatusOK, status, "%s", b)
	require.Equal(t, 1024, memory(), "the function's own limits are back")
	f := e.WaitFn(t, "guest", name, 5*time.Second, func(f stackenv.Function) bool { return f.State == "LATEST" })
	require.Equal(t, 2, f.Head.Revision, "the stub and its undoing recorded no revision")
}
