package stackenv

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/deploy/local/stack"
)

func TestDescendants(t *testing.T) {
	// sh starts sleep as its child: both are descendants of this process.
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	require.NoError(t, cmd.Start())
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	var procs []proc
	require.Eventually(t, func() bool {
		procs = descendants(os.Getpid())
		for _, p := range procs {
			if p.comm == "sleep" {
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond)
	for _, p := range procs {
		require.True(t, p.alive(), "%d %s", p.pid, p.comm)
	}
	for _, p := range procs {
		if p.comm == "sleep" {
			require.NoError(t, syscall.Kill(p.pid, syscall.SIGKILL))
			require.Eventually(t, func() bool { return !p.alive() }, 5*time.Second, 10*time.Millisecond)
		}
	}
}

func TestReadEndpoints(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "endpoints.json")
	_, err := ReadEndpoints(path)
	require.Error(t, err, "missing")
	require.NoError(t, os.WriteFile(path, []byte(`{"apihost":"http://127.0.0.1:1"}`), 0o600))
	_, err = ReadEndpoints(path)
	require.Error(t, err, "incomplete")
	require.NoError(t, os.WriteFile(path, []byte(`{"apihost":"a","gateway":"g","admin":"d","kafka":["k"],"auth":"u:k","adminToken":"t","namespace":"guest","couchdb":"c"}`), 0o600))
	e, err := ReadEndpoints(path)
	require.NoError(t, err)
	require.Equal(t, stack.Endpoints{APIHost: "a", Gateway: "g", Admin: "d", CouchDB: "c", Kafka: []string{"k"}, Namespace: "guest", Auth: "u:k", AdminToken: "t"}, e)
}

func TestQuantile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var ds []time.Duration
		for _, n := range ns {
			ds = append(ds, time.Duration(n)*time.Millisecond)
		}
		return ds
	}
	for _, tc := range []struct {
		name string
		ds   []time.Duration
		q    float64
		want time.Duration
	}{
		{"none", nil, .5, 0},
		{"one", ms(7), .99, 7 * time.Millisecond},
		{"median of an odd count", ms(5, 1, 3), .5, 3 * time.Millisecond},
		{"median of an even count: the lower", ms(4, 1, 3, 2), .5, 2 * time.Millisecond},
		{"p99 of ten: the largest", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), .99, 10 * time.Millisecond},
		{"p90 of ten: the ninth", ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), .9, 9 * time.Millisecond},
		{"p0: the smallest", ms(3, 1, 2), 0, time.Millisecond},
		{"max", ms(3, 1, 2), 1, 3 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tc.ds...)
			require.Equal(t, tc.want, Quantile(tc.ds, tc.q))
			require.Equal(t, in, tc.ds, "the caller's order is kept")
		})
	}
}

// TestStart runs a stack of each kind of its own; Stop (in Start's
// cleanup) fails the test when a process or cgroup outlives it.
func TestStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{{"in process", Options{}}, {"child process", Options{Process: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			e := Start(t, tc.o)
			require.Equal(t, tc.o.Process, e.Stack == nil, "only the in-process stack has parts to kill")
			resp, err := e.HTTP.Get(e.EP.Admin + "/healthz")
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.FileExists(t, e.FnmgrLog)
			require.FileExists(t, e.StackLog)
			require.FileExists(t, e.FnmgrBin)
		})
	}
}

func TestProcessRefusesModify(t *testing.T) {
	_, err := Launch(t.Context(), Options{Process: true, Modify: func(*stack.Options) {}})
	require.ErrorContains(t, err, "in-process stack only")
}

// TestStopFindsLeftovers: a process started while the stack runs that
// outlives it fails Stop, which kills it.
func TestStopFindsLeftovers(t *testing.T) {
	if r := SkipReason(); r != "" {
		t.Skip(r)
	}
	e, err := Launch(t.Context(), Options{})
	require.NoError(t, err)
	leak := exec.Command("sleep", "60")
	require.NoError(t, leak.Start())
	waited := make(chan error, 1)
	go func() { waited <- leak.Wait() }()
	err = e.Stop(t.Context())
	require.ErrorContains(t, err, fmt.Sprintf("process %d (sleep) outlived the stack; killed", leak.Process.Pid))
	select {
	case err := <-waited:
		require.ErrorContains(t, err, "killed")
	case <-time.After(10 * time.Second):
		_ = leak.Process.Kill()
		t.Fatal("Stop did not kill the leftover process")
	}
	require.NoDirExists(t, e.Dir, "Stop removes the stack's directory")
}
