package optimizerstack

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/optimizer"
)

// sleeper100 answers after 100 ms.
const sleeper100 = `function main(p) { return new Promise(r => setTimeout(() => r({ok: true}), 100)); }`

// TestWithinDeploymentMemory: the local controller allows at most 512 MB
// (its GET / max_action_memory) while the invokers have 2048 MB: an
// optimization of a 100 ms sleeper under cost never tries, recommends or
// applies more than 512 MB, and a candidate above it is refused naming the
// controller's limit.
func TestWithinDeploymentMemory(t *testing.T) {
	e := newEnv(t)
	name := unique("opt-bounds")
	e.action(name, sleeper100, 256, 60000)
	id, err := e.svc.Start(e.ctx, "guest", name, optimizer.Request{Objective: "cost", MaxInvocations: 8, Apply: true}, "stacktest")
	require.NoError(t, err)
	r := e.wait(e.svc, name, id, 3*time.Minute)
	require.Equal(t, optimizer.Succeeded, r.Status, r.Error)
	rep := r.Report
	require.NotEmpty(t, rep.Candidates)
	require.LessOrEqual(t, rep.Candidates[len(rep.Candidates)-1], 512)
	for _, p := range rep.Active.Points {
		require.LessOrEqual(t, p.MemoryMB, 512, "probed %d MB", p.MemoryMB)
	}
	require.LessOrEqual(t, rep.Recommendation.MemoryMB, 512)
	code, body := e.rest(http.MethodGet, "actions/"+name, "")
	require.Equal(t, http.StatusOK, code)
	var a struct {
		Limits struct {
			Memory int `json:"memory"`
		} `json:"limits"`
	}
	require.NoError(t, json.Unmarshal(body, &a))
	require.Equal(t, rep.Recommendation.MemoryMB, a.Limits.Memory, "applied")
	require.LessOrEqual(t, a.Limits.Memory, 512)

	_, err = e.svc.Start(e.ctx, "guest", name, optimizer.Request{MemoryCandidates: []int{1024}}, "stacktest")
	require.ErrorIs(t, err, optimizer.ErrInvalid)
	require.Regexp(t, `and 512 MB \((the controller's|the namespace's) `, err.Error(), "the bound and where it comes from")
}
