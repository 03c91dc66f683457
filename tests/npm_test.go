package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/tests/contract"
	"github.com/fnmgr/fnmgr/tests/stackenv"
)

// TestOpenWhiskNpmClient runs tests/npm/openwhisk.test.js (node's test
// runner, the official openwhisk npm client from tests/npm's lockfile)
// against the stack: the controller and the gateway.
func TestOpenWhiskNpmClient(t *testing.T) {
	env := stackenv.Need(t, shared).EP
	root, err := contract.RepoRoot()
	require.NoError(t, err)
	dir := filepath.Join(root, "tests", "npm")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openwhisk")); err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("tests/npm/node_modules is missing: run `make deps` (npm ci in tests/npm)")
		}
		t.Fatal("tests/npm/node_modules is missing: `make deps` installs it")
	}
	cmd := exec.Command("node", "--test", "--test-reporter=spec", "openwhisk.test.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OW_APIHOST="+env.APIHost, "FNMGR_GATEWAY="+env.Gateway, "OW_AUTH="+env.Auth)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	require.NoError(t, err, "the npm client scenario failed")
}
