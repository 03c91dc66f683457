package security

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
