package couchdb_test

import (
	"context"
	"errors"
	"io"
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
)

// requireBin returns the pouchdb-server executable or skips the test.
func requireBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping pouchdb-server test in -short mode")
	}
	bin, err := couchdb.FindBin()
	if err != nil && os.Getenv("CI") != "" {
		t.Fatalf("pouchdb-server is required under CI: %v", err)
	}
	if err != nil {
		t.Skipf("skipping: pouchdb-server is not installed (run `make deps` or set $%s): %v", couchdb.BinEnv, err)
	}
	return bin
}

// script writes an executable shell script standing in for pouchdb-server.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fake-pouchdb-server")
	require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	return path
}

func httpDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestServerRestartKeepsData(t *testing.T) {
	bin := requireBin(t)
	ctx := t.Context()
	dir := t.TempDir()
	s, err := couchdb.Start(ctx, couchdb.Options{Dir: dir, Bin: bin})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Kill() })

	url := s.URL()
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), url)
	code, body := httpDo(t, http.MethodGet, url+"/", "")
	require.Equal(t, http.StatusOK, code, body)
	code, body = httpDo(t, http.MethodPut, url+"/keep", "")
	require.Equal(t, http.StatusCreated, code, body)
	code, body = httpDo(t, http.MethodPut, url+"/keep/doc1", `{"n":1}`)
	require.Equal(t, http.StatusCreated, code, body)

	// Its own files stay inside Dir, not in the test's working directory.
	for _, name := range []string{"config.json", "log.txt", "data/keep"} {
		_, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err, name)
	}

	restarts := []struct {
		name string
		stop func() error
	}{
		{"after Stop", func() error { return s.Stop(ctx) }},
		{"after Kill", s.Kill},
	}
	for _, r := range restarts {
		t.Run(r.name, func(t *testing.T) {
			done := s.Done()
			require.NoError(t, r.stop())
			require.Nil(t, s.Done())
			select {
			case <-done:
			default:
				t.Fatal("process still running after stop")
			}
			_, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), time.Second)
			require.Error(t, err, "port still answers after stop")

			require.NoError(t, s.Start(ctx))
			require.Equal(t, url, s.URL(), "restart must keep the port")
			code, body := httpDo(t, http.MethodGet, url+"/keep/doc1", "")
			require.Equal(t, http.StatusOK, code, body)
			require.Contains(t, body, `"n":1`)
		})
	}

	t.Run("Start while running", func(t *testing.T) {
		require.ErrorIs(t, s.Start(ctx), couchdb.ErrRunning)
	})
	t.Run("Stop twice", func(t *testing.T) {
		require.NoError(t, s.Stop(ctx))
		require.NoError(t, s.Stop(ctx))
	})
}

func TestServerPortInUse(t *testing.T) {
	bin := requireBin(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	start := time.Now()
	_, err = couchdb.Start(t.Context(), couchdb.Options{Dir: t.TempDir(), Bin: bin, Port: port})
	require.ErrorIs(t, err, couchdb.ErrPortInUse)
	require.Contains(t, err.Error(), strconv.Itoa(port))
	require.Less(t, time.Since(start), 2*time.Second)
}

// TestServerStartFailures runs fake executables, so it needs no pouchdb-server.
func TestServerStartFailures(t *testing.T) {
	cases := []struct {
		name    string
		bin     func(t *testing.T) string
		timeout time.Duration
		ctx     func(t *testing.T) context.Context
		wantIs  error
		want    []string
		within  time.Duration
	}{
		{
			name:   "exits early",
			bin:    func(t *testing.T) string { return script(t, `echo "boom: cannot start" >&2; exit 3`) },
			want:   []string{"exited before it was ready", "exit status 3", "boom: cannot start"},
			within: 5 * time.Second,
		},
		{
			name:   "reports port in use and exits 0",
			bin:    func(t *testing.T) string { return script(t, `echo "Error: Port 1 is already in use." >&2; exit 0`) },
			wantIs: couchdb.ErrPortInUse,
			within: 5 * time.Second,
		},
		{
			name:    "never answers",
			bin:     func(t *testing.T) string { return script(t, `echo "still warming up" >&2; exec sleep 600`) },
			timeout: 300 * time.Millisecond,
			want:    []string{"not ready after 300ms", "still warming up"},
			within:  5 * time.Second,
		},
		{
			name: "context ends",
			bin:  func(t *testing.T) string { return script(t, `exec sleep 600`) },
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
				t.Cleanup(cancel)
				return ctx
			},
			wantIs: context.DeadlineExceeded,
			want:   []string{"stderr was empty"},
			within: 5 * time.Second,
		},
		{
			name:   "missing executable",
			bin:    func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") },
			wantIs: couchdb.ErrBinaryNotFound,
			within: time.Second,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			if tc.ctx != nil {
				ctx = tc.ctx(t)
			}
			start := time.Now()
			s, err := couchdb.Start(ctx, couchdb.Options{Dir: t.TempDir(), Bin: tc.bin(t), StartTimeout: tc.timeout})
			require.Error(t, err)
			require.Nil(t, s)
			require.Less(t, time.Since(start), tc.within)
			require.True(t, strings.HasPrefix(err.Error(), "couchdb: "), err.Error())
			if tc.wantIs != nil {
				require.ErrorIs(t, err, tc.wantIs)
			}
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestFindBinFromEnv(t *testing.T) {
	fake := script(t, "exit 0")
	cases := []struct {
		name    string
		env     string
		want    string
		wantErr error
	}{
		{"set", fake, fake, nil},
		{"missing file", filepath.Join(t.TempDir(), "missing"), "", couchdb.ErrBinaryNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(couchdb.BinEnv, tc.env)
			got, err := couchdb.FindBin()
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.Contains(t, err.Error(), couchdb.BinEnv)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestStartValidatesOptions(t *testing.T) {
	cases := []struct {
		name string
		o    couchdb.Options
		want string
	}{
		{"no dir", couchdb.Options{}, "Dir is required"},
		{"bad port", couchdb.Options{Dir: t.TempDir(), Port: 70000}, "invalid port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := couchdb.Start(t.Context(), tc.o)
			require.ErrorContains(t, err, tc.want)
			require.False(t, errors.Is(err, couchdb.ErrPortInUse))
		})
	}
}
