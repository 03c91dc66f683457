package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func testEnv(vars map[string]string) (env, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return env{stdout: &out, stderr: &errOut, getenv: func(k string) string { return vars[k] }}, &out, &errOut
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
		{"no command", nil, errUsage, "", "", "Commands:"},
		{"unknown command", []string{"frobnicate"}, errUsage, `"frobnicate"`, "", "serve"},
		{"version", []string{"version"}, nil, "", "fnmgr dev", ""},
		{"--version", []string{"--version"}, nil, "", "fnmgr dev", ""},
		{"serve help shows flags", []string{"serve", "--help"}, flag.ErrHelp, "", "", "FNMGR_ADMIN_ADDR"},
		{"serve with a bad flag value", []string{"serve", "--log-format", "xml"}, nil, "--log-format", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, out, errOut := testEnv(nil)
			err := dispatch(context.Background(), tc.args, e)
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

// TestServeStopsOnCancel runs the daemon on free ports and cancels it, as
// SIGTERM does through signal.NotifyContext.
func TestServeStopsOnCancel(t *testing.T) {
	e, _, logs := testEnv(map[string]string{
		"FNMGR_ADMIN_ADDR":   freeAddr(t),
		"FNMGR_GATEWAY_ADDR": "127.0.0.1:0",
		"FNMGR_COUCHDB_URL":  "http://127.0.0.1:1",
	})
	adminAddr := e.getenv("FNMGR_ADMIN_ADDR")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, nil, e) }()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + adminAddr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after cancel")
	}
	require.True(t, strings.Contains(logs.String(), "fnmgr stopped"), logs.String())
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}
