package security

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/plugin/config"
	"github.com/fnmgr/fnmgr/tests/logbuf"
	"github.com/fnmgr/fnmgr/tests/stackenv"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

// secrets collects the values that must never be logged or returned in an
// error, and every error answer the scenario got.
type secrets struct {
	values []string
	mu     sync.Mutex
	errors []string // "what: body"
}

func (s *secrets) add(v ...string) { s.values = append(s.values, v...) }

// answer records an error answer (status >= 400).
func (s *secrets) answer(what string, status int, body []byte) {
	if status < 400 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errors = append(s.errors, fmt.Sprintf("%s (%d): %s", what, status, body))
}

// check fails t for every secret found in text (named where), once per
// secret and component (the slog "component" of the line), so that one run
// lists every place that leaks.
func (s *secrets) check(t *testing.T, where, text string) {
	t.Helper()
	for _, v := range s.values {
		seen := map[string]bool{}
		for _, line := range strings.Split(text, "\n") {
			if !strings.Contains(line, v) {
				continue
			}
			c := componentOf(line)
			if seen[c] {
				continue
			}
			seen[c] = true
			t.Errorf("%s contains a secret (%.6s…), component %q: %.300s", where, v, c, line)
		}
	}
}

// componentOf returns a log line's component (text or JSON slog).
func componentOf(line string) string {
	for _, p := range []string{"component=", `"component":"`} {
		if _, rest, ok := strings.Cut(line, p); ok {
			c, _, _ := strings.Cut(rest, " ")
			return strings.Trim(c, `",}`)
		}
	}
	return "?"
}

// TestNoSecretInLogsOrErrors runs a realistic scenario with a secret
// parameter (create, invoke, block, publish, alias, update by fnmgr and by
// wsk, unblock, and a series of failures) and then reads every log line of
// fnmgr and of the stack (both at debug level) and every error answer:
// none carries the guest key, the admin token or a parameter value.
func TestNoSecretInLogsOrErrors(t *testing.T) {
	e := stackenv.Need(t, env)
	uuid, key, _ := strings.Cut(e.EP.Auth, ":")
	s := &secrets{}
	stamp := fmt.Sprint(time.Now().UnixNano())
	secret1, secret2, secret3, payload := "pw1-"+stamp, "pw2-"+stamp, "pw3-"+stamp, "payload-"+stamp
	s.add(key, e.EP.AdminToken, base64.StdEncoding.EncodeToString([]byte(uuid+":"+key)), secret1, secret2, secret3, payload)

	c := e.Wsk(t, e.EP.APIHost, e.EP.Auth)
	gw := e.Wsk(t, e.EP.Gateway, e.EP.Auth)
	const name = "vault"
	code := "function main(p){ if (p.fail) { throw new Error('failing on purpose') } return {ok: !!p.password} }"
	stackenv.CreateAction(t, c, name, "nodejs:default", code, false, whisk.KeyValue{Key: "password", Value: secret1})
	e.WaitFn(t, "guest", name, 10*time.Second, func(f stackenv.Function) bool { return f.Head.Revision == 1 })
	fn := stackenv.FnPath("guest", name)
	admin := func(method, path string, body any) int {
		status, b := e.AdminRaw(t, e.EP.Auth, method, path, body)
		s.answer(method+" "+path, status, b)
		return status
	}
	invoke := func(host, cred string, params any) int {
		status, b := e.Call(t, cred, "POST", host, "/api/v1/namespaces/_/actions/"+name+"?blocking=true&result=true",
			testkit.MustJSON(t, params))
		s.answer("invoke at "+host, status, b)
		return status
	}

	for _, host := range []string{e.EP.APIHost, e.EP.Gateway} {
		require.Equal(t, http.StatusOK, invoke(host, e.EP.Auth, map[string]any{"secretPayload": payload}))
	}
	require.Equal(t, http.StatusCreated, admin("POST", fn+"/versions", map[string]any{"description": "v1"}))
	require.Equal(t, http.StatusOK, admin("PUT", fn+"/aliases/prod", map[string]any{"version": 1}))
	require.Equal(t, http.StatusOK, admin("POST", fn+"/block", map[string]any{"reason": "rotation"}))
	for _, host := range []string{e.EP.APIHost, e.EP.Gateway} {
		require.GreaterOrEqual(t, invoke(host, e.EP.Auth, map[string]any{"secretPayload": payload}), 400, "blocked")
	}
	require.Equal(t, http.StatusConflict, admin("POST", fn+"/update", map[string]any{"parameters": []any{map[string]any{"key": "password", "value": secret2}}}), "no update while blocked")
	require.Equal(t, http.StatusOK, admin("POST", fn+"/unblock", nil))
	require.Equal(t, http.StatusOK, admin("POST", fn+"/update", map[string]any{"parameters": []any{map[string]any{"key": "password", "value": secret2}}}))
	require.Equal(t, http.StatusBadRequest, admin("POST", fn+"/update", map[string]any{"parameters": []any{map[string]any{"key": "password", "value": secret3}}, "bogus": 1}))
	require.Equal(t, http.StatusBadRequest, admin("POST", fn+"/update", map[string]any{"parameters": []any{map[string]any{"key": "password", "value": secret3, "init": "yes"}}}))
	require.GreaterOrEqual(t, admin("POST", fn+"/update", map[string]any{"parameters": []any{map[string]any{"key": "password", "value": secret3}},
		"test": map[string]any{"fail": true}}), 400, "a failing test invocation")
	stackenv.CreateAction(t, c, name, "nodejs:default", code, true, whisk.KeyValue{Key: "password", Value: secret3})
	e.WaitFn(t, "guest", name, 10*time.Second, func(f stackenv.Function) bool { return f.State == "LATEST" && f.Head.Revision >= 3 })
	require.GreaterOrEqual(t, invoke(e.EP.Gateway, e.EP.Auth, map[string]any{"fail": true, "secretPayload": payload}), 400)
	require.Equal(t, http.StatusUnauthorized, invoke(e.EP.Gateway, uuid+":"+key+"x", map[string]any{"secretPayload": payload}))
	status, b := e.AdminRaw(t, uuid+":"+key+"x", "GET", fn, nil)
	s.answer("admin with a wrong key", status, b)
	events := e.Metric(t, "fnmgr_events_activations_total")
	_, _, err := gw.Actions.Invoke(name+"@prod", map[string]any{"secretPayload": payload}, true, true)
	require.NoError(t, err)

	// Await what fnmgr does after the last change and the last invocation,
	// so that its log lines of them are read too: the invoker's user event
	// counted, and the action's annotations written (the head, with
	// secret3, is no published version: LATEST, no fnmgr-version).
	require.Eventually(t, func() bool { return e.Metric(t, "fnmgr_events_activations_total") > events },
		30*time.Second, 20*time.Millisecond, "fnmgr counts the last invocation's event")
	require.Eventually(t, func() bool {
		a, _, err := c.Actions.Get(name, false)
		return err == nil && a.Annotations.GetValue("fnmgr-state") == "LATEST" && a.Annotations.GetValue("fnmgr-version") == nil
	}, 30*time.Second, 50*time.Millisecond, "fnmgr annotates the action")
	for _, p := range []string{e.FnmgrLog, e.StackLog} {
		logs, err := os.ReadFile(p)
		require.NoError(t, err)
		require.NotEmpty(t, logs)
		s.check(t, filepath.Base(p), string(logs))
	}
	require.NotEmpty(t, s.errors)
	s.check(t, "an error answer", strings.Join(s.errors, "\n"))
}

// TestCredentialsInURLsNeverLogged runs a second fnmgr, at debug level,
// with passwords in its CouchDB and controller URLs and an admin token:
// first against a CouchDB that takes the password (a proxy to the stack's,
// with databases of its own so that it leaves the stack's fnmgr alone),
// then while that CouchDB goes away under it, and once with a password
// CouchDB refuses. Whatever it logs on the way, no password and no token
// appears.
func TestCredentialsInURLsNeverLogged(t *testing.T) {
	e := stackenv.Need(t, env)
	bin := e.FnmgrBin
	const couchPass, ctlPass, token = "couch-pa55-Zq81", "ctl-pa55-Wd42", "admin-token-Xk77-0123456789"
	target, err := url.Parse(e.EP.CouchDB)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	couch := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "fnmgr" || p != couchPass {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"unauthorized","reason":"Name or password is incorrect."}`))
			return
		}
		r.Header.Del("Authorization")
		proxy.ServeHTTP(w, r)
	}))
	defer couch.Close()
	withPass := func(pass string) string { return strings.Replace(couch.URL, "http://", "http://fnmgr:"+pass+"@", 1) }

	tests := []struct {
		name, couchURL string
		outage         bool // the CouchDB goes away while fnmgr runs
	}{
		{"a CouchDB that refuses the password", withPass(couchPass + "-wrong"), false},
		{"no CouchDB", "http://fnmgr:" + couchPass + "@127.0.0.1:1", false},
		{"a CouchDB that goes away", withPass(couchPass), true}, // last: it closes the proxy
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "serve")
			cmd.Env = append(os.Environ(),
				config.EnvCouchURL+"="+tc.couchURL,
				config.EnvOWDBPrefix+"=secx_",
				config.EnvDBPrefix+"=secx_fnmgr_",
				config.EnvControllers+"=http://ctl:"+ctlPass+"@127.0.0.1:1",
				config.EnvKafkaBrokers+"=127.0.0.1:1",
				config.EnvAdminToken+"="+token,
				config.EnvAdminAddr+"=127.0.0.1:0",
				config.EnvGatewayAddr+"=127.0.0.1:0",
				config.EnvLogLevel+"=debug")
			out := &syncBuffer{}
			cmd.Stdout, cmd.Stderr = out, out
			cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
			cmd.WaitDelay = 10 * time.Second
			require.NoError(t, cmd.Start())
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			if tc.couchURL == withPass(couchPass) {
				require.Eventually(t, func() bool { return strings.Contains(out.String(), "fnmgr started") },
					20*time.Second, 20*time.Millisecond, "fnmgr starts with the password: %s", out)
				// Its Kafka listeners (at a closed port) fail, and say so.
				require.Eventually(t, func() bool { return strings.Contains(out.String(), "consumer group interrupted") },
					20*time.Second, 20*time.Millisecond, "fnmgr's listeners fail: %s", out)
				if tc.outage {
					couch.CloseClientConnections()
					go couch.Close()
					// Its change feed loses CouchDB, reconnects and fails.
					require.Eventually(t, func() bool { return strings.Contains(out.String(), "changes feed interrupted") },
						20*time.Second, 20*time.Millisecond, "fnmgr's feed fails: %s", out)
				}
				cancel()
			}
			select {
			case <-done:
			case <-time.After(40 * time.Second):
				t.Fatal("fnmgr did not exit")
			}
			logs := out.String()
			require.NotEmpty(t, logs)
			for _, secret := range []string{couchPass, ctlPass, token} {
				require.NotContains(t, logs, secret)
			}
			if tc.outage { // the failures it logged are what this test reads
				require.Contains(t, logs, "changes feed interrupted")
				require.Contains(t, logs, "consumer group interrupted")
			}
		})
	}
}

// syncBuffer is an output sink safe for the child's two streams.
type syncBuffer = logbuf.Buffer
