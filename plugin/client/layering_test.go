package client

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImportsNoServerPackage: the client and the CLI speak the admin API
// through plugin/api and carry none of the server: under plugin/ they
// import only the wire types, the configuration and preflight (fnmgr
// check), and each other.
func TestImportsNoServerPackage(t *testing.T) {
	const module = "github.com/fnmgr/fnmgr/plugin/"
	allowed := []string{"api", "cli", "client", "config", "preflight"}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.CommandContext(t.Context(), goTool, "list", "-deps", "-f", "{{.ImportPath}}", ".", "../cli").CombinedOutput()
	require.NoError(t, err, "%s", out)
	var plugin []string
	for _, p := range strings.Fields(string(out)) {
		if rest, ok := strings.CutPrefix(p, module); ok {
			plugin = append(plugin, rest)
			require.Contains(t, allowed, strings.Split(rest, "/")[0], "plugin/client or plugin/cli imports the server package %s", p)
		}
	}
	require.True(t, slices.Contains(plugin, "api"), "the list names the packages under plugin/: %v", plugin)
}
