package stackenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/go-kivik/kivik/v4"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/deploy/local/stack"
)

// Credentials for Admin besides a "uuid:key" subject key.
const (
	AsAdmin = "admin" // the admin token
	AsNone  = "none"  // no Authorization header
)

// Wsk returns an openwhisk-client-go client for host (the controller or
// the gateway), acting with auth ("uuid:key") in its own namespace "_".
func (e *Env) Wsk(t testing.TB, host, auth string) *whisk.Client {
	t.Helper()
	base, err := url.Parse(host + "/api")
	require.NoError(t, err)
	c, err := whisk.NewClient(&http.Client{Timeout: 90 * time.Second}, &whisk.Config{
		Host: strings.TrimPrefix(host, "http://"), BaseURL: base, Namespace: "_", AuthToken: auth})
	require.NoError(t, err)
	return c
}

// CreateAction creates (overwrite false) or updates an action as `wsk
// action create|update NAME` with code of kind does.
func CreateAction(t testing.TB, c *whisk.Client, name, kind, code string, overwrite bool, params ...whisk.KeyValue) *whisk.Action {
	t.Helper()
	a := &whisk.Action{Name: name, Namespace: "_", Exec: &whisk.Exec{Kind: kind, Code: &code}, Parameters: params}
	out, resp, err := c.Actions.Insert(a, overwrite)
	require.NoError(t, err, "insert %s: %v", name, resp)
	return out
}

// Admin calls the admin API as cred (AsAdmin, AsNone or "uuid:key"),
// decodes the answer into out when given, and returns the status.
func (e *Env) Admin(t testing.TB, cred, method, path string, body, out any) int {
	t.Helper()
	status, b := e.AdminRaw(t, cred, method, path, body)
	if out != nil && len(b) > 0 {
		require.NoError(t, json.Unmarshal(b, out), "%s %s: %s", method, path, b)
	}
	return status
}

// AdminRaw is Admin returning the raw answer.
func (e *Env) AdminRaw(t testing.TB, cred, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.EP.Admin+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	SetAuth(req, cred, e.EP.AdminToken)
	resp, err := e.HTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// SetAuth sets req's credentials: AsAdmin (Bearer token), AsNone, or a
// "uuid:key" subject key (Basic).
func SetAuth(req *http.Request, cred, adminToken string) {
	switch cred {
	case AsAdmin:
		req.Header.Set("Authorization", "Bearer "+adminToken)
	case AsNone, "":
	default:
		u, k, _ := strings.Cut(cred, ":")
		req.SetBasicAuth(u, k)
	}
}

// Function is the part of GET …/functions/{fn} tests read.
type Function struct {
	State string `json:"state"`
	Head  struct {
		Revision int    `json:"revision"`
		Digest   string `json:"digest"`
	} `json:"head"`
	Versions []struct {
		Version int    `json:"version"`
		Digest  string `json:"digest"`
	} `json:"versions"`
	Aliases map[string]struct {
		Routing []struct {
			Version int `json:"version"`
			Weight  int `json:"weight"`
		} `json:"routing"`
	} `json:"aliases"`
	Transition *struct {
		Op string `json:"op"`
	} `json:"transition"`
	Purged bool `json:"purged"`
}

// FnPath is the admin API path of function ns/name.
func FnPath(ns, name string) string {
	return "/v1/namespaces/" + url.PathEscape(ns) + "/functions/" + url.PathEscape(name)
}

// WaitFn waits until function ns/name (read with the admin token)
// satisfies ok, and returns it.
func (e *Env) WaitFn(t testing.TB, ns, name string, within time.Duration, ok func(Function) bool) Function {
	t.Helper()
	var f Function
	require.Eventually(t, func() bool {
		f = Function{}
		return e.Admin(t, AsAdmin, "GET", FnPath(ns, name), nil, &f) == http.StatusOK && ok(f)
	}, within, 10*time.Millisecond, "function %s/%s: last seen %+v", ns, name, f)
	return f
}

// Ready reports fnmgr's /readyz status and body.
func (e *Env) Ready() (int, string) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(e.EP.Admin + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// WaitReady waits until fnmgr's /readyz answers 200.
func (e *Env) WaitReady(t testing.TB, within time.Duration) {
	t.Helper()
	last := ""
	require.Eventually(t, func() bool {
		var status int
		status, last = e.Ready()
		return status == http.StatusOK
	}, within, 20*time.Millisecond, "fnmgr not ready: %s", &last)
}

// RestartFnmgr kills fnmgr (SIGKILL), starts it again and waits until it
// is ready.
func (e *Env) RestartFnmgr(t testing.TB) {
	t.Helper()
	require.NoError(t, e.Stack.KillFnmgr())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, e.Stack.StartFnmgr(ctx))
	e.WaitReady(t, time.Minute)
}

// Couch returns a kivik client for the stack's CouchDB.
func (e *Env) Couch(t testing.TB) *kivik.Client {
	t.Helper()
	c, err := couch.NewClient(context.Background(), e.EP.CouchDB, couch.ClientOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// DB returns OpenWhisk's database name ("whisks", "subjects") of the stack.
func (e *Env) DB(t testing.TB, name string) *kivik.DB {
	t.Helper()
	return e.Couch(t).DB(stack.DBPrefix + name)
}

// NewSubject adds a subject owning namespace ns to OpenWhisk's subjects
// database, as `wskadmin user create` does, and returns its "uuid:key".
func (e *Env) NewSubject(t testing.TB, ns string) string {
	t.Helper()
	uuid, key := randomHex(t, 16), randomHex(t, 32)
	uuid = uuid[:8] + "-" + uuid[8:12] + "-" + uuid[12:16] + "-" + uuid[16:20] + "-" + uuid[20:]
	doc := entity.Subject{DocMeta: entity.DocMeta{ID: ns}, Subject: ns,
		Namespaces: []entity.SubjectNamespace{{Name: ns, UUID: uuid, Key: key}}}
	_, err := e.DB(t, "subjects").Put(context.Background(), ns, doc)
	require.NoError(t, err)
	return uuid + ":" + key
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// Call makes one HTTP request to base+path as cred and returns the status
// and body (the gateway's and the controller's own API alike).
func (e *Env) Call(t testing.TB, cred, method, base, path string, body []byte) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	SetAuth(req, cred, e.EP.AdminToken)
	resp, err := e.HTTP.Do(req)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}
