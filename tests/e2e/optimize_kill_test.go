package e2e

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fnmgr/fnmgr/tests/optkill"
	"github.com/fnmgr/fnmgr/tests/testkit"
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
		testkit.Pause(t.Context(), delay) // a random point of the run, drawn
		restart(t)
		optkill.Check(t, c, name, fmt.Sprintf("run %d (killed after %s)", i, delay), func(r *optkill.Run) {
			admin(t, "GET", fnPath(name)+"/optimizations/"+id, nil, r)
		})
	}
}
