package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEveryCommandChecksItsArguments: every command whose Args are all
// required refuses a missing or an extra argument as a usage error naming
// what is missing or extra, before it asks the admin API anything.
func TestEveryCommandChecksItsArguments(t *testing.T) {
	f := newFakeAPI(t)
	var walk func(path []string, c *Command)
	checked := 0
	walk = func(path []string, c *Command) {
		for _, sub := range c.Sub {
			walk(append(append([]string(nil), path...), sub.Name), sub)
		}
		if c.Flags == nil || strings.Contains(c.Args, "[") {
			return // a group, a raw command, or one with optional arguments
		}
		checked++
		names := strings.Fields(c.Args)
		args := make([]string, len(names))
		for i := range args {
			args[i] = "a" + string(rune('0'+i))
		}
		cmd := strings.Join(path, " ")
		t.Run(cmd, func(t *testing.T) {
			if len(names) > 0 {
				code, _, errOut := runCLI(t, f.props(), nil, append(path, args[:len(args)-1]...)...)
				require.Equal(t, ExitUsage, code, errOut)
				require.Contains(t, errOut, "fnmgr "+cmd+" needs "+names[len(names)-1])
			}
			code, _, errOut := runCLI(t, f.props(), nil, append(append(path, args...), "extra")...)
			require.Equal(t, ExitUsage, code, errOut)
			require.Contains(t, errOut, `unexpected argument "extra"`)
		})
	}
	walk(nil, Root())
	require.Greater(t, checked, 15, "the walk found the commands")
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Empty(t, f.requests, "argument errors reach no API")
}
