package replicas

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/tests/optkill"
	"github.com/fnmgr/fnmgr/tests/stackenv"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

// TestKillAnyReplicaDuringOptimization is the three-replica variant of
// tests/e2e's TestKillDuringOptimization: an optimization that applies its
// result is started through nginx (forwarded to the leader) and a random
// replica, leader or not, is killed (SIGKILL) at a random point of it,
// three times. Afterwards the run is recorded once and over (failed as
// interrupted, or succeeded: finished, or finished applying by the next
// leader), no probe copy of the action is left in OpenWhisk, and the live
// action runs with its own limits or with those the run applied.
func TestKillAnyReplicaDuringOptimization(t *testing.T) {
	e := stackenv.Need(t, env)
	t.Cleanup(func() { logReplicas(t, e, "replicated-optkill-") })
	rs := stackReplicas(t, e)
	_, epoch := agreedLeader(t, rs, 0, 20*time.Second)
	c := e.Wsk(t, e.EP.APIHost, e.EP.Auth)
	for i := range 3 {
		name := fmt.Sprintf("replicated-optkill-%d", i)
		code, m := optkill.Sleeper, optkill.MemoryMB
		_, resp, err := c.Actions.Insert(&whisk.Action{Name: name, Namespace: "_", Exec: &whisk.Exec{Kind: "nodejs:default", Code: &code},
			Limits: &whisk.Limits{Memory: &m}}, true)
		require.NoError(t, err, "insert %s: %v", name, resp)
		e.WaitFn(t, "guest", name, 10*time.Second, func(f stackenv.Function) bool { return f.Head.Revision == 1 })
		var started struct {
			ID    string `json:"id"`
			Error string `json:"error"`
		}
		require.Eventually(t, func() bool {
			started.Error = ""
			return e.Admin(t, stackenv.AsAdmin, http.MethodPost, stackenv.FnPath("guest", name)+"/optimizations", optkill.Request(), &started) == http.StatusAccepted
		}, 10*time.Second, 100*time.Millisecond, "start: %s", &started.Error)
		require.NotEmpty(t, started.ID)

		delay := time.Duration(200+rand.IntN(2500)) * time.Millisecond
		testkit.Pause(t.Context(), delay) // a random point of the run, drawn
		victim := rand.IntN(len(rs))
		_, err = e.Stack.KillReplica(victim)
		require.NoError(t, err)
		rs = stackReplicas(t, e) // restarted by the stack, new pids
		_, epoch = agreedLeader(t, rs, epoch-1, 20*time.Second)
		what := fmt.Sprintf("run %d (replica %d killed after %s)", i, victim, delay)

		optkill.Check(t, c, name, what, func(r *optkill.Run) {
			e.Admin(t, stackenv.AsAdmin, http.MethodGet, stackenv.FnPath("guest", name)+"/optimizations/"+started.ID, nil, r)
		})
		var runs []struct {
			ID string `json:"id"`
		}
		require.Equal(t, http.StatusOK, e.Admin(t, stackenv.AsAdmin, http.MethodGet, stackenv.FnPath("guest", name)+"/optimizations", nil, &runs))
		require.Len(t, runs, 1, "%s: the run is recorded once", what)
		require.Equal(t, started.ID, runs[0].ID, what)
	}
}
