// Package e2e tries fnmgr as a user would, against the whole local stack
// run in this process (deploy/local/stack), so that tests can kill fnmgr
// (SIGKILL) and start it again: OpenWhisk's own API through
// openwhisk-client-go (what wsk is built on), the admin API, the gateway.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/go-kivik/kivik/v4"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/deploy/local/stack"
	"github.com/fnmgr/fnmgr/tests/harness"
)

var (
	st  *stack.Stack
	eps stack.Endpoints
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if harness.SkipReason() != "" {
		return m.Run() // each test skips
	}
	tmp, err := os.MkdirTemp("", "fnmgr-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	bin, err := harness.FnmgrBin(filepath.Join(tmp, "bin"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	logf, err := os.Create(filepath.Join(tmp, "stack.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer logf.Close()
	st, err = stack.New(stack.Options{Dir: filepath.Join(tmp, "local"), FnmgrBin: bin, Console: logf,
		Logger: slog.New(slog.NewTextHandler(logf, nil))})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		err = st.Start(ctx)
		cancel()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: start the local stack:", err)
		return 1
	}
	eps = st.Endpoints()
	code := m.Run()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.Stop(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: stop:", err)
		if code == 0 {
			code = 1
		}
	}
	if code != 0 {
		if b, err := os.ReadFile(filepath.Join(tmp, "local", stack.FnmgrLogFile)); err == nil {
			tail := b[max(0, len(b)-6000):]
			fmt.Fprintf(os.Stderr, "--- end of fnmgr.log ---\n%s\n", tail)
		}
	}
	return code
}

func need(t *testing.T) {
	t.Helper()
	if r := harness.SkipReason(); r != "" {
		t.Skip(r)
	}
}

// wsk returns an openwhisk-client-go client for host (the controller or
// the gateway) as the guest namespace.
func wsk(t *testing.T, host string) *whisk.Client {
	t.Helper()
	base, err := url.Parse(host + "/api")
	require.NoError(t, err)
	c, err := whisk.NewClient(&http.Client{Timeout: 90 * time.Second}, &whisk.Config{
		Host: strings.TrimPrefix(host, "http://"), BaseURL: base, Namespace: "_", AuthToken: eps.Auth})
	require.NoError(t, err)
	return c
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

func adminAs(t *testing.T, cred, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, eps.Admin+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch cred {
	case "basic":
		u, k, _ := strings.Cut(eps.Auth, ":")
		req.SetBasicAuth(u, k)
	case "admin":
		req.Header.Set("Authorization", "Bearer "+eps.AdminToken)
	case "none":
	default:
		u, k, _ := strings.Cut(cred, ":")
		req.SetBasicAuth(u, k)
	}
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && len(b) > 0 {
		require.NoError(t, json.Unmarshal(b, out), "%s %s: %s", method, path, b)
	}
	return resp.StatusCode
}

// fnView is the part of GET …/functions/{fn} the tests read.
type fnView struct {
	State string `json:"state"`
	Head  struct {
		Revision int    `json:"revision"`
		Digest   string `json:"digest"`
	} `json:"head"`
	Versions []struct {
		Version int `json:"version"`
	} `json:"versions"`
	Purged bool `json:"purged"`
}

func fnPath(name string) string { return "/v1/namespaces/guest/functions/" + url.PathEscape(name) }

// waitFn waits until the function satisfies ok.
func waitFn(t *testing.T, name string, within time.Duration, ok func(fnView) bool) fnView {
	t.Helper()
	var f fnView
	require.Eventually(t, func() bool {
		f = fnView{}
		return admin(t, "GET", fnPath(name), nil, &f) == 200 && ok(f)
	}, within, 10*time.Millisecond, "function %s: last seen %+v", name, f)
	return f
}

// httpClient bounds every call the tests make.
var httpClient = &http.Client{Timeout: 30 * time.Second}

// waitReady waits for fnmgr's /readyz.
func waitReady(t *testing.T) {
	t.Helper()
	last := ""
	c := &http.Client{Timeout: 2 * time.Second}
	require.Eventually(t, func() bool {
		resp, err := c.Get(eps.Admin + "/readyz")
		if err != nil {
			last = err.Error()
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = string(b)
		return resp.StatusCode == 200
	}, 60*time.Second, 20*time.Millisecond, "fnmgr not ready: %s", &last)
}

// couchClient is a kivik client for the stack's CouchDB.
func couchClient(t *testing.T) *kivik.Client {
	t.Helper()
	c, err := couch.NewClient(context.Background(), eps.CouchDB, couch.ClientOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// authed is a request to the admin API as the guest.
func authed(t *testing.T, method, path string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, eps.Admin+path, nil)
	require.NoError(t, err)
	u, k, _ := strings.Cut(eps.Auth, ":")
	req.SetBasicAuth(u, k)
	return req
}
