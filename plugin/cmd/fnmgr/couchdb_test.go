package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/tests/couchtest"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

// TestServeWaitsForCouchDB: with nothing on CouchDB's port, the daemon
// runs, live but not ready, and a signal during the wait stops it cleanly
// and at once.
func TestServeWaitsForCouchDB(t *testing.T) {
	vars := map[string]string{"FNMGR_COUCHDB_URL": "http://" + testkit.ClosedAddr(t)}
	logs, stop := startServe(t, vars, nil, nil)
	resp, err := http.Get("http://" + vars["FNMGR_ADMIN_ADDR"] + "/readyz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Contains(t, string(body), "couchdb: waiting for CouchDB")
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "CouchDB unavailable; retrying") },
		10*time.Second, 10*time.Millisecond)

	start := time.Now()
	require.NoError(t, stop(), "a signal during the wait is a clean stop")
	require.Less(t, time.Since(start), 2*time.Second)
	require.Contains(t, logs.String(), "fnmgr stopped")
}

// TestServeSignalWhileStarting: CouchDB accepts connections but does not
// answer, so Start's first try at it hangs; a signal then stops the daemon
// cleanly (no error) and at once.
func TestServeSignalWhileStarting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c // held open, never answered
		}
	}()
	t.Cleanup(func() {
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	})
	vars := map[string]string{"FNMGR_COUCHDB_URL": "http://" + ln.Addr().String()}
	baseVars(t, vars)
	e, _, logs := testEnv(vars)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, nil, e, nil) }()
	select {
	case c := <-accepted:
		accepted <- c
	case err := <-done:
		t.Fatalf("serve returned before reaching CouchDB: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve never reached CouchDB")
	}
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "logs: %s", logs)
	case <-time.After(2 * time.Second):
		t.Fatal("serve did not return promptly after the signal")
	}
	require.Contains(t, logs.String(), "signal received while starting; stopped")
}

// TestServeFailsOnWrongCouchDBCredentials: a 401 from CouchDB is a
// configuration error: serve fails at once, naming the setting and not
// the password.
func TestServeFailsOnWrongCouchDBCredentials(t *testing.T) {
	const password = "not-the-password"
	u, err := url.Parse(couchtest.URL(t))
	require.NoError(t, err)
	u.User = url.UserPassword("whisk_admin", password)
	vars := map[string]string{"FNMGR_COUCHDB_URL": u.String()}
	baseVars(t, vars)
	e, _, logs := testEnv(vars)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err = serve(ctx, nil, e, nil)
	require.ErrorContains(t, err, "refuses fnmgr's credentials (HTTP 401)")
	require.ErrorContains(t, err, "FNMGR_COUCHDB_URL")
	require.Less(t, time.Since(start), 5*time.Second, "fails fast")
	require.NotContains(t, err.Error(), password)
	require.NotContains(t, logs.String(), password)
}

// baseVars fills in what serve needs besides CouchDB's URL: free ports,
// fresh database prefixes, an unreachable Kafka.
func baseVars(t *testing.T, vars map[string]string) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the daemon against pouchdb-server; skipped with -short")
	}
	prefix := couchtest.Prefix(t)
	vars["FNMGR_ADMIN_ADDR"] = testkit.ClosedAddr(t)
	vars["FNMGR_GATEWAY_ADDR"] = "127.0.0.1:0"
	vars["FNMGR_DB_PREFIX"] = prefix + "fnmgr_"
	vars["FNMGR_OW_DB_PREFIX"] = prefix + "whisk_"
	vars["FNMGR_KAFKA_BROKERS"] = "127.0.0.1:1"
}
