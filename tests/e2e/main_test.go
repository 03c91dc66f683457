// Package e2e tries fnmgr as a user would, against the whole local stack
// run in this process (deploy/local/stack), so that tests can kill fnmgr
// (SIGKILL) and start it again: OpenWhisk's own API through
// openwhisk-client-go (what wsk is built on), the admin API, the gateway.
package e2e

import (
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/go-kivik/kivik/v4"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/tests/stackenv"
)

// env is the package's stack, in this process.
var env *stackenv.Env

func TestMain(m *testing.M) { os.Exit(stackenv.Run(m, stackenv.Options{}, &env)) }

// The helpers below are shorthands for the guest namespace, whose key
// endpoints.json names.

func need(t *testing.T) {
	t.Helper()
	stackenv.Need(t, env)
}

// wsk returns an openwhisk-client-go client for host (the controller or
// the gateway) as the guest namespace.
func wsk(t *testing.T, host string) *whisk.Client {
	t.Helper()
	return env.Wsk(t, host, env.EP.Auth)
}

// create makes (or updates) an action the way `wsk action create/update
// NAME file.js` does.
func create(t *testing.T, c *whisk.Client, name, kind, code string, memory int, overwrite bool, params ...whisk.KeyValue) *whisk.Action {
	t.Helper()
	a := &whisk.Action{Name: name, Namespace: "_", Exec: &whisk.Exec{Kind: kind, Code: &code}, Parameters: params}
	if memory > 0 {
		a.Limits = &whisk.Limits{Memory: &memory}
	}
	out, resp, err := c.Actions.Insert(a, overwrite)
	require.NoError(t, err, "insert %s: %v", name, resp)
	return out
}

// invokeResult invokes name blocking through c and returns the result, or
// the error the controller answered.
func invokeResult(c *whisk.Client, name string, params any) (map[string]any, error) {
	res, _, err := c.Actions.Invoke(name, params, true, true)
	m, _ := res.(map[string]any)
	return m, err
}

// admin calls the admin API as the guest (Basic) and decodes the answer.
func admin(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	return adminAs(t, "basic", method, path, body, out)
}

// adminAs calls the admin API as cred: "basic" (the guest),
// stackenv.AsAdmin, stackenv.AsNone or a "uuid:key".
func adminAs(t *testing.T, cred, method, path string, body any, out any) int {
	t.Helper()
	if cred == "basic" {
		cred = env.EP.Auth
	}
	return env.Admin(t, cred, method, path, body, out)
}

// fnView is the part of GET …/functions/{fn} the tests read.
type fnView = stackenv.Function

func fnPath(name string) string { return stackenv.FnPath("guest", name) }

// waitFn waits until the function satisfies ok.
func waitFn(t *testing.T, name string, within time.Duration, ok func(fnView) bool) fnView {
	t.Helper()
	return env.WaitFn(t, "guest", name, within, ok)
}

// couchClient is a kivik client for the stack's CouchDB.
func couchClient(t *testing.T) *kivik.Client {
	t.Helper()
	return env.Couch(t)
}

// authed is a request to the admin API as the guest.
func authed(t *testing.T, method, path string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, env.EP.Admin+path, nil)
	require.NoError(t, err)
	stackenv.SetAuth(req, env.EP.Auth, "")
	return req
}
