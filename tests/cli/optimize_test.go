package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOptimize starts the pre-optimizer through the CLI. Where this fnmgr
// build has no optimizer yet (the endpoints answer 501), the CLI must say
// so plainly; otherwise it follows the run to its result table.
func TestOptimize(t *testing.T) {
	f := newFixture(t)
	const name = "cli-optimize"
	f.create(t, name, "function main(p) { let s = 0; for (let i = 0; i < 1000; i++) s += i; return {s} }")
	f.seen(t, name)
	// MAX_MEMORY comes from the invokers' health pings: right after the
	// stack starts, the first may not have arrived yet.
	var r result
	require.Eventually(t, func() bool {
		r = f.run(t, nil, "optimize", name, "--payload", `{"n":1}`, "--memory", "128,256", "--max-invocations", "4", "--poll", "100ms")
		return !strings.Contains(r.errOut, "MAX_MEMORY is unknown")
	}, 10*time.Second, 200*time.Millisecond)
	if r.code != 0 && strings.Contains(r.errOut, "optimizations") && strings.Contains(r.errOut, "not implemented") {
		require.Equal(t, 1, r.code)
		require.Regexp(t, `^error: POST /v1/namespaces/\{ns\}/functions/\{fn\}/optimizations is not implemented yet in this fnmgr build\. \(code \w+\)\n$`, r.errOut)
		t.Log("the optimizer endpoints answer 501 in this build; checked that the CLI reports it")
		return
	}
	require.Equal(t, 0, r.code, "stdout: %s\nstderr: %s", r.out, r.errOut)
	require.Contains(t, r.out, "optimization ")
	require.Contains(t, r.out, ": succeeded (")
	t.Log(r.out)
}
