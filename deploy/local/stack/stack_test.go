package stack

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/deploy/local/couchdb"
	"github.com/fnmgr/fnmgr/deploy/local/seed"
)

// needServices skips in -short runs, and where pouchdb-server is not
// installed unless $CI says it must be.
func needServices(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the local stack; skipped with -short")
	}
	if _, err := couchdb.FindBin(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("pouchdb-server is required in CI: %v", err)
		}
		t.Skipf("pouchdb-server not installed (make deps): %v", err)
	}
}

// testStack runs the stack on free ports with the fake fnmgr in mode.
func testStack(t *testing.T, mode string) *Stack {
	t.Helper()
	t.Setenv(fakeFnmgrEnv, mode)
	exe, err := os.Executable()
	require.NoError(t, err)
	s, err := New(Options{
		Dir:          t.TempDir(),
		FnmgrBin:     exe,
		Console:      io.Discard,
		Logger:       slog.New(slog.DiscardHandler),
		StartTimeout: 30 * time.Second,
		StopTimeout:  5 * time.Second,
	})
	require.NoError(t, err)
	return s
}

func status(t *testing.T, rawURL string) int {
	t.Helper()
	resp, err := http.Get(rawURL)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// requireFree checks that every port of e is free again.
func requireFree(t *testing.T, e Endpoints) {
	t.Helper()
	addrs := append([]string{e.APIHost, e.Gateway, e.Admin, e.CouchDB}, e.Kafka...)
	for _, a := range addrs {
		a = strings.TrimPrefix(a, "http://")
		if a == "" {
			continue
		}
		l, err := net.Listen("tcp", a)
		require.NoError(t, err, "%s is still taken after Stop", a)
		l.Close()
	}
}

func TestStackLifecycle(t *testing.T) {
	needServices(t)
	ctx := context.Background()
	s := testStack(t, "ok")
	require.NoError(t, s.Start(ctx))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = s.Stop(ctx)
		}
	})
	e := s.Endpoints()

	b, err := os.ReadFile(filepath.Join(s.opts.Dir, EndpointsFile))
	require.NoError(t, err)
	var onDisk Endpoints
	require.NoError(t, json.Unmarshal(b, &onDisk))
	require.Equal(t, e, onDisk)
	require.Equal(t, seed.GuestAuth, e.Auth)
	require.Equal(t, "guest", e.Namespace)
	require.Len(t, e.AdminToken, 64)
	require.Len(t, e.Kafka, 1)

	require.Equal(t, http.StatusOK, status(t, e.APIHost+"/"))
	require.Equal(t, http.StatusOK, status(t, e.Admin+"/healthz"))

	// fnmgr: kill -9, then start again.
	require.NoError(t, s.KillFnmgr())
	require.Zero(t, status(t, e.Admin+"/healthz"))
	require.Error(t, s.KillFnmgr(), "nothing left to kill")
	require.NoError(t, s.StartFnmgr(ctx))
	require.Equal(t, http.StatusOK, status(t, e.Admin+"/healthz"))
	require.Error(t, s.StartFnmgr(ctx), "already running")

	// controller 0: stop, then start again on the same port.
	require.NoError(t, s.StopController(ctx, 0))
	require.Zero(t, status(t, e.APIHost+"/"))
	require.Error(t, s.StopController(ctx, 0))
	require.Error(t, s.StopController(ctx, 1), "there is one controller")
	require.NoError(t, s.StartController(ctx, 0))
	require.Equal(t, http.StatusOK, status(t, e.APIHost+"/"))

	stopped = true
	require.NoError(t, s.Stop(ctx))
	require.NoFileExists(t, filepath.Join(s.opts.Dir, EndpointsFile))
	requireFree(t, e)
	require.DirExists(t, filepath.Join(s.opts.Dir, "couchdb", "data"), "CouchDB's state persists in Dir")
	require.DirExists(t, filepath.Join(s.opts.Dir, "kafka"), "Kafka's state persists in Dir")
}

func TestStackUnwindsFailedStart(t *testing.T) {
	needServices(t)
	s := testStack(t, "crash")
	err := s.Start(context.Background())
	require.ErrorContains(t, err, "fnmgr")
	require.ErrorContains(t, err, "fake fnmgr: boom")
	require.NoFileExists(t, filepath.Join(s.opts.Dir, EndpointsFile))
	// Everything before fnmgr was started, then stopped again.
	e := Endpoints{APIHost: httpURL(s.ports.controllers[0]), CouchDB: httpURL(s.ports.couchdb), Kafka: []string{hostPort(s.ports.kafka)}}
	requireFree(t, e)
	require.NoError(t, s.Stop(context.Background()), "Stop after a failed Start has nothing to do")
}

func TestStackTakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	s := testStack(t, "ok")
	s.opts.GatewayPort = port
	start := time.Now()
	err = s.Start(context.Background())
	require.ErrorContains(t, err, "port "+strconv.Itoa(port)+" for fnmgr's gateway is already in use")
	require.ErrorContains(t, err, "--gateway-port (FNMGR_GATEWAY_PORT)")
	require.Less(t, time.Since(start), 2*time.Second, "a taken port fails fast")
	require.NoDirExists(t, filepath.Join(s.opts.Dir, "couchdb"), "nothing started")
}
