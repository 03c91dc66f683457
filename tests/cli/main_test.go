// Package cli_test drives the fnmgr CLI in-process against the local stack:
// actions are created through the controller with openwhisk-client-go, and
// every command runs with a temporary wskprops file and captured output.
package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/deploy/local/stack"
	"github.com/fnmgr/fnmgr/plugin/cli"
	"github.com/fnmgr/fnmgr/tests/stackenv"
)

// shared is the package's stack: bin/localstack as a child process.
var shared *stackenv.Env

func TestMain(m *testing.M) { os.Exit(stackenv.Run(m, stackenv.Options{Process: true}, &shared)) }

// fixture is the stack, a wskprops file for the guest key, and a whisk
// client on the controller.
type fixture struct {
	env   stack.Endpoints
	props string
	wsk   *whisk.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	e := stackenv.Need(t, shared)
	env := e.EP
	props := filepath.Join(t.TempDir(), "wskprops")
	require.NoError(t, os.WriteFile(props, []byte("APIHOST="+env.APIHost+"\nAUTH="+env.Auth+"\nNAMESPACE="+env.Namespace+
		"\nFNMGR_ADMIN="+env.Admin+"\n"), 0o600))
	return &fixture{env: env, props: props, wsk: e.Wsk(t, env.APIHost, env.Auth)}
}

// result is one run of the CLI.
type result struct {
	code        int
	out, errOut string
}

// run runs fnmgr args in-process; vars add to the environment.
func (f *fixture) run(t *testing.T, vars map[string]string, args ...string) result {
	t.Helper()
	env := map[string]string{cli.EnvWskConfig: f.props, "HOME": t.TempDir()}
	for k, v := range vars {
		env[k] = v
	}
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := cli.Main(ctx, args, cli.Env{Stdout: &out, Stderr: &errOut, Version: "test", Getenv: func(k string) string { return env[k] }})
	return result{code, out.String(), errOut.String()}
}

// create makes an action as `wsk action update NAME` does.
func (f *fixture) create(t *testing.T, name, code string) {
	t.Helper()
	a := &whisk.Action{Name: name, Namespace: "_", Exec: &whisk.Exec{Kind: "nodejs:default", Code: &code}}
	_, resp, err := f.wsk.Actions.Insert(a, true)
	require.NoError(t, err, "insert %s: %v", name, resp)
}

// seen waits until fnmgr has adopted the action.
func (f *fixture) seen(t *testing.T, name string) {
	t.Helper()
	require.Eventually(t, func() bool { return f.run(t, nil, "functions", "get", name).code == 0 },
		30*time.Second, 100*time.Millisecond, "fnmgr never saw %s", name)
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal([]byte(s), &v), s)
	return v
}
