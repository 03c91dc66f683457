// Package optkill holds what the tests that kill fnmgr during an
// optimization (tests/e2e with one process, tests/replicas with any of
// three) start and check: the action they optimize, the request that
// starts the run, and what must hold once the killed process is back.
// It knows nothing of how a stack is started; callers pass their clients.
package optkill

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/require"
)

// Sleeper is the optimized action's code: it sleeps 200 ms and answers
// {"ok": true}, at any memory.
const Sleeper = "function main(){ return new Promise(r => setTimeout(() => r({ok: true}), 200)) }"

// MemoryMB is the sleeper's own memory limit, which an interrupted run
// leaves as it is.
const MemoryMB = 512

// Request is the body of POST …/optimizations that starts the run: the
// smallest memory that does not slow the sleeper down, in 15 invocations,
// applied when found.
func Request() map[string]any {
	return map[string]any{"payloads": []map[string]any{{}}, "objective": "min-resources", "maxInvocations": 15, "apply": true}
}

// Run is what GET …/optimizations/{id} shows of a run.
type Run struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Report struct {
		Recommendation struct {
			MemoryMB int `json:"memoryMB"`
		} `json:"recommendation"`
	} `json:"report"`
}

// Check is what must hold once the process killed during the run of action
// name is back (what names the kill in failure messages; get fetches the
// run into r): the run is over, failed as interrupted or succeeded (it had
// finished, or was applying its setting, which the restart finished); no
// probe copy of the action is left in OpenWhisk; the live action has its
// own memory (MemoryMB) after a failed run, the recommended one after a
// run that succeeded, and runs. It returns the run.
func Check(t testing.TB, c *whisk.Client, name, what string, get func(r *Run)) Run {
	t.Helper()
	var r Run
	require.Eventually(t, func() bool {
		r = Run{}
		get(&r)
		return r.Status == "failed" || r.Status == "succeeded"
	}, 30*time.Second, 100*time.Millisecond, "%s: the run is over, not left running (%+v)", what, &r)
	if r.Status == "failed" {
		require.Contains(t, r.Error, "interrupted", what)
	}
	require.Eventually(t, func() bool {
		list, _, err := c.Actions.List("", &whisk.ActionListOptions{Limit: 200})
		if err != nil {
			return false
		}
		for _, x := range list {
			if strings.HasPrefix(x.Name, name+"@fnmgr-probe-") {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "%s: no probe copy is left", what)

	a, _, err := c.Actions.Get(name, false)
	require.NoError(t, err, what)
	if r.Status == "failed" {
		require.Equal(t, MemoryMB, *a.Limits.Memory, "%s: an interrupted run changes nothing", what)
	} else {
		require.Equal(t, r.Report.Recommendation.MemoryMB, *a.Limits.Memory, "%s: a run that succeeded applied its setting", what)
	}
	res, _, err := c.Actions.Invoke(name, nil, true, true)
	require.NoError(t, err, "%s: the live action runs", what)
	out, _ := res.(map[string]any)
	require.Equal(t, true, out["ok"], what)
	t.Logf("%s: run %s, memory %d MB", what, r.Status, *a.Limits.Memory)
	return r
}
