package e2e

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/require"
)

// TestKillDuringOptimization kills fnmgr (SIGKILL) at a random point of an
// optimization, four times: after the restart the run is over (failed as
// interrupted, or succeeded if it had finished or was applying its
// setting, which the restart then finishes), no probe copy of the action
// is left in OpenWhisk, and the live action runs with its own limits or
// with those the run that succeeded applied, never anything else.
func TestKillDuringOptimization(t *testing.T) {
	need(t)
	c := wsk(t, env.EP.APIHost)
	runsN := 4
	if testing.Short() {
		runsN = 1
	}
	for i := range runsN {
		name := fmt.Sprintf("optkill-%d", i)
		id := startSleeperOptimization(t, c, name)
		delay := time.Duration(200+rand.IntN(3000)) * time.Millisecond
		time.Sleep(delay) // a random point of the run
		restart(t)

		var r struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Report struct {
				Recommendation struct {
					MemoryMB int `json:"memoryMB"`
				} `json:"recommendation"`
			} `json:"report"`
		}
		require.Eventually(t, func() bool {
			r.Status, r.Error = "", ""
			admin(t, "GET", fnPath(name)+"/optimizations/"+id, nil, &r)
			return r.Status == "failed" || r.Status == "succeeded"
		}, 30*time.Second, 100*time.Millisecond, "run %d (killed after %s): the run is over, not left running (%+v)", i, delay, &r)
		if r.Status == "failed" {
			require.Contains(t, r.Error, "interrupted", "run %d", i)
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
		}, 30*time.Second, 100*time.Millisecond, "run %d (killed after %s): no probe copy is left", i, delay)

		a, _, err := c.Actions.Get(name, false)
		require.NoError(t, err)
		if r.Status == "failed" {
			require.Equal(t, 512, *a.Limits.Memory, "run %d: an interrupted run changes nothing", i)
		} else {
			require.Equal(t, r.Report.Recommendation.MemoryMB, *a.Limits.Memory, "run %d: a run that succeeded applied its setting", i)
		}
		res, err := invokeResult(c, name, nil)
		require.NoError(t, err, "run %d: the live action runs", i)
		require.Equal(t, true, res["ok"], "run %d", i)
		t.Logf("run %d: killed after %s, run %s, memory %d MB", i, delay, r.Status, *a.Limits.Memory)
	}
}
