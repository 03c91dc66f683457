package main

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/plugin/cli"
	"github.com/fnmgr/fnmgr/tests/couchtest"
	"github.com/fnmgr/fnmgr/tests/logbuf"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

func TestMain(m *testing.M) { couchtest.Main(m) }

// syncBuffer is a bytes.Buffer safe for the daemon's goroutines.
type syncBuffer = logbuf.Buffer

func testEnv(vars map[string]string) (cli.Env, *syncBuffer, *syncBuffer) {
	var out, errOut syncBuffer
	return cli.Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return vars[k] }, Version: version}, &out, &errOut
}

func TestDispatch(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantErr   error  // errors.Is
		wantText  string // in the error's text
		wantOut   string
		wantErrIn string
	}{
		{"help lists commands", []string{"--help"}, nil, "", "serve", ""},
		{"help lists version", []string{"help"}, nil, "", "version", ""},
		{"no command", nil, cli.ErrUsage, "", "", "Commands:"},
		{"unknown command", []string{"frobnicate"}, cli.ErrUsage, `"frobnicate"`, "", "serve"},
		{"version", []string{"version"}, nil, "", "fnmgr dev", ""},
		{"--version", []string{"--version"}, nil, "", "fnmgr dev", ""},
		{"serve help shows flags", []string{"serve", "--help"}, flag.ErrHelp, "", "", "FNMGR_ADMIN_ADDR"},
		{"serve help shows the config file", []string{"serve", "--help"}, flag.ErrHelp, "", "", "FNMGR_CONFIG"},
		{"serve with a bad flag value", []string{"serve", "--log-format", "xml"}, nil, "--log-format", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, out, errOut := testEnv(nil)
			err := cli.Run(context.Background(), tc.args, e, serveCommand(nil))
			switch {
			case tc.wantErr != nil:
				require.True(t, errors.Is(err, tc.wantErr), "err %v", err)
			case tc.wantText == "":
				require.NoError(t, err)
			}
			if tc.wantText != "" {
				require.ErrorContains(t, err, tc.wantText)
			}
			require.Contains(t, out.String(), tc.wantOut)
			require.Contains(t, errOut.String(), tc.wantErrIn)
		})
	}
}

// startServe runs the daemon on free ports and returns its admin address
// and a function that cancels it, as SIGTERM does through
// signal.NotifyContext, and waits for it.
func startServe(t *testing.T, vars map[string]string, args []string, hup chan os.Signal) (*syncBuffer, func() error) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the daemon against pouchdb-server; skipped with -short")
	}
	prefix := couchtest.Prefix(t)
	vars["FNMGR_ADMIN_ADDR"] = testkit.ClosedAddr(t)
	vars["FNMGR_GATEWAY_ADDR"] = "127.0.0.1:0"
	if vars["FNMGR_COUCHDB_URL"] == "" {
		vars["FNMGR_COUCHDB_URL"] = couchtest.URL(t)
	}
	vars["FNMGR_DB_PREFIX"] = prefix + "fnmgr_"
	vars["FNMGR_OW_DB_PREFIX"] = prefix + "whisk_"
	vars["FNMGR_KAFKA_BROKERS"] = "127.0.0.1:1"
	e, _, logs := testEnv(vars)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, args, e, hup) }()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + vars["FNMGR_ADMIN_ADDR"] + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "logs: %s", logs)
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not return after cancel")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	return logs, stop
}

func TestServeStopsOnCancel(t *testing.T) {
	logs, stop := startServe(t, map[string]string{}, nil, nil)
	require.NoError(t, stop())
	require.True(t, strings.Contains(logs.String(), "fnmgr stopped"), logs.String())
}

// TestServeReloadsOnHUP changes the config file and sends SIGHUP (through
// the channel main feeds from signal.Notify).
func TestServeReloadsOnHUP(t *testing.T) {
	file := filepath.Join(t.TempDir(), "fnmgr.json")
	write := func(body string) { require.NoError(t, os.WriteFile(file, []byte(body), 0o600)) }
	write(`{"log-level": "info", "controllers": ["http://127.0.0.1:3233"]}`)
	hup := make(chan os.Signal, 1)
	logs, stop := startServe(t, map[string]string{}, []string{"--config", file}, hup)

	write(`{"log-level": "debug", "controllers": ["http://127.0.0.1:3233", "http://127.0.0.1:3299"], "retire-grace": "1h"}`)
	hup <- syscall.SIGHUP
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "configuration reloaded") }, 10*time.Second, 10*time.Millisecond)
	out := logs.String()
	require.Regexp(t, `"applied":\[[^]]*"log_level"`, out)
	require.Contains(t, out, "these settings change only on a restart")
	require.Contains(t, out, `"retire_grace"`)
	require.Contains(t, out, `"applied":["controllers","log_level"]`)

	write(`{"log-level": "loud"}`)
	hup <- syscall.SIGHUP
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), "the configuration is invalid; keeping the running one")
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, stop())
}
