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
// runner, the official openwhisk npm client from tests/npm's lockfile,
// installed in .deps/npm-openwhisk)
// against the stack: the controller and the gateway.
func TestOpenWhiskNpmClient(t *testing.T) {
	env := stackenv.Need(t, shared).EP
	root, err := contract.RepoRoot()
	require.NoError(t, err)
	dir := filepath.Join(root, "tests", "npm")
	// `make deps` installs tests/npm's lockfile into .deps/npm-openwhisk.
	modules := filepath.Join(root, ".deps", "npm-openwhisk", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "openwhisk")); err != nil {
		if os.Getenv("CI") == "" {
			t.Skip(".deps/npm-openwhisk/node_modules is missing: run `make deps` (npm ci of tests/npm's lockfile)")
		}
		t.Fatal(".deps/npm-openwhisk/node_modules is missing: `make deps` installs it")
	}
	cmd := exec.Command("node", "--test", "--test-reporter=spec", "openwhisk.test.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules,
		"OW_APIHOST="+env.APIHost, "FNMGR_GATEWAY="+env.Gateway, "OW_AUTH="+env.Auth)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	require.NoError(t, err, "the npm client scenario failed")
}
