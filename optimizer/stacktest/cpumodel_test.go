package stacktest

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/optimizer"
	"github.com/fnmgr/fnmgr/optimizer/search"
	"github.com/fnmgr/fnmgr/plugin/registry"
)

// TestCPUModelOfTheProfile: the report names the CPU model the stack's
// profile gives (endpoints.json's profile): under default, a CFS quota ∝
// memory, so a CPU-bound action is slower at small sizes (quota); under
// helm and scheduler, cpu.shares ∝ memory and no quota, so on an idle
// invoker it is not (shares), and min-resources then chooses the smallest
// size. make test runs the default profile; OW_PROFILE=helm go test
// ./optimizer/stacktest -run TestCPUModelOfTheProfile runs the other.
func TestCPUModelOfTheProfile(t *testing.T) {
	e := newEnv(t)
	b, err := os.ReadFile(filepath.Join(e.stack.Dir, "endpoints.json"))
	require.NoError(t, err)
	var ep struct {
		Profile string `json:"profile"`
	}
	require.NoError(t, json.Unmarshal(b, &ep))
	name := unique("opt-cpumodel")
	// nodejs:default: every profile's runtimes have it (helm's nodejs is 14).
	body, err := json.Marshal(map[string]any{"exec": map[string]any{"kind": "nodejs:default", "code": cpuCode},
		"limits": map[string]any{"memory": 256, "timeout": 60000}})
	require.NoError(t, err)
	code, resp := e.rest(http.MethodPut, "actions/"+name+"?overwrite=true", string(body))
	require.Equal(t, http.StatusOK, code, string(resp))
	_, err = e.reg.Update(e.ctx, "guest", name, func(f *registry.Function) error {
		f.State = registry.Latest
		return nil
	})
	require.NoError(t, err)
	payload := optimizer.Payloads{{Body: json.RawMessage(`{"n": 3000000}`), Weight: 1}}
	req := optimizer.Request{Payloads: payload, MaxInvocations: 12, MemoryCandidates: stackCandidates}
	id, err := e.svc.Start(e.ctx, "guest", name, req, "stacktest")
	require.NoError(t, err)
	r := e.wait(e.svc, name, id, 4*time.Minute)
	require.Equal(t, optimizer.Succeeded, r.Status, r.Error)
	a := r.Report.Active
	require.NotNil(t, a)
	for _, p := range a.Points {
		t.Logf("  %4d MB n=%d median %.0f ms", p.MemoryMB, p.Stats.N, p.Stats.MedianMs)
	}
	t.Logf("profile %q: cpuModel %s: %s; %s", ep.Profile, a.CPUModel.Model, a.CPUModel.Evidence, a.Decision.Why)
	switch ep.Profile {
	case "", "default":
		require.Equal(t, search.CPUQuota, a.CPUModel.Model)
	default:
		require.Equal(t, search.CPUShares, a.CPUModel.Model)
		require.Contains(t, a.CPUModel.Note, "idle node")
		require.Equal(t, r.Report.Candidates[0], a.Decision.MemoryMB, "a CPU-bound action that is not slowed: the smallest size")
	}
}

// stackCandidates are the sizes the stack's profiles allow an action
// (OpenWhisk's actions.memory 128m to 512m in every profile,
// deploy/local/profile): the optimizer's tests here ask for them, since
// their deployment stub (stackMaxMemoryMB) still says 2048 MB.
var stackCandidates = []int{128, 192, 256, 320, 384, 448, 512}
