package stack

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/tests/logbuf"
)

// lockedBuffer is a console the child's output goroutine may write to.
type lockedBuffer = logbuf.Buffer

// fakeSpec runs the test binary as fnmgr in mode (see TestMain).
func fakeSpec(t *testing.T, mode string) (*Stack, fnmgrSpec, *lockedBuffer) {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	console := &lockedBuffer{}
	dir := t.TempDir()
	s := &Stack{opts: Options{Dir: dir, Console: console, StartTimeout: 10 * time.Second, StopTimeout: 5 * time.Second},
		log: slog.New(slog.DiscardHandler)}
	p, err := resolvePorts(Options{Controllers: 1})
	require.NoError(t, err)
	e := Endpoints{Admin: httpURL(p.admin), Gateway: httpURL(p.gateway), Kafka: []string{hostPort(p.kafka)}, AdminToken: "tok-0123456789abcdef"}
	env := append(fnmgrEnv(os.Environ(), e, []string{httpURL(p.controllers[0])}, httpURL(p.couchdb), nil), fakeFnmgrEnv+"="+mode)
	return s, fnmgrSpec{bin: exe, env: env, adminURL: e.Admin, gatewayAddr: hostPort(p.gateway), logPath: filepath.Join(dir, FnmgrLogFile)}, console
}

func healthy(adminURL string) bool {
	resp, err := http.Get(adminURL + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func gone(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == syscall.ESRCH
}

func TestFnmgrChild(t *testing.T) {
	ctx := context.Background()
	s, spec, console := fakeSpec(t, "ok")

	p, err := s.startFnmgr(ctx, spec)
	require.NoError(t, err)
	require.True(t, healthy(spec.adminURL))
	pgid, err := syscall.Getpgid(p.cmd.Process.Pid)
	require.NoError(t, err)
	require.Equal(t, p.cmd.Process.Pid, pgid, "fnmgr leads its own process group")

	p.kill()
	require.True(t, gone(p.cmd.Process.Pid))
	require.False(t, healthy(spec.adminURL))

	p, err = s.startFnmgr(ctx, spec)
	require.NoError(t, err, "starts again after a kill")
	require.NoError(t, p.stop(ctx, 5*time.Second))
	require.NoError(t, p.err, "exits 0 on SIGTERM")
	require.True(t, gone(p.cmd.Process.Pid))

	require.Contains(t, console.String(), "fnmgr | fake fnmgr starting")
	require.Contains(t, console.String(), "fnmgr | fake fnmgr stopping")
	log, err := os.ReadFile(spec.logPath)
	require.NoError(t, err)
	require.Equal(t, 2, bytes.Count(log, []byte("fake fnmgr starting")), "the log file collects every run")
}

func TestFnmgrChildFailures(t *testing.T) {
	tests := []struct {
		name, mode string
		bin        string
		want       []string
	}{
		{"exits at once", "crash", "", []string{"exited before it was ready", "fake fnmgr: boom", FnmgrLogFile}},
		{"never healthy", "hang", "", []string{"not ready after"}},
		{"no executable", "ok", "/nonexistent/fnmgr", []string{"/nonexistent/fnmgr not found", "make build", "--fnmgr-bin"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, spec, _ := fakeSpec(t, tc.mode)
			s.opts.StartTimeout = time.Second
			if tc.bin != "" {
				spec.bin = tc.bin
			}
			start := time.Now()
			_, err := s.startFnmgr(context.Background(), spec)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.Less(t, time.Since(start), 5*time.Second)
		})
	}
}
