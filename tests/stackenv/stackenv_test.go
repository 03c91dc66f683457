package harness

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
	_, err := readEndpoints(path)
	require.Error(t, err, "missing")
	require.NoError(t, os.WriteFile(path, []byte(`{"apihost":"http://127.0.0.1:1"}`), 0o600))
	_, err = readEndpoints(path)
	require.Error(t, err, "incomplete")
	require.NoError(t, os.WriteFile(path, []byte(`{"apihost":"a","gateway":"g","admin":"d","kafka":["k"],"auth":"u:k","adminToken":"t","namespace":"guest","couchdb":"c"}`), 0o600))
	e, err := readEndpoints(path)
	require.NoError(t, err)
	require.Equal(t, Env{APIHost: "a", Gateway: "g", Admin: "d", CouchDB: "c", Kafka: []string{"k"}, Namespace: "guest", Auth: "u:k", AdminToken: "t"}, *e)
}

// TestStart runs a stack of its own; its cleanup checks that nothing is
// left behind.
func TestStart(t *testing.T) {
	env := Start(t)
	resp, err := http.Get(env.Admin + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.FileExists(t, filepath.Join(env.Dir, "fnmgr.log"))
}
