package optimizerstack

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
// ./tests/optimizerstack -run TestCPUModelOfTheProfile runs the other.
func TestCPUModelOfTheProfile(t *testing.T) {
	e := newEnv(t)
	profile := e.profile()
	name := unique("opt-cpumodel")
	e.actionKind(name, "nodejs:default", cpuCode, 256, 60000)
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
	t.Logf("profile %q: cpuModel %s: %s; %s", profile, a.CPUModel.Model, a.CPUModel.Evidence, a.Decision.Why)
	require.Equal(t, wantCPUModel(profile), a.CPUModel.Model)
	if profile != "default" {
		require.Contains(t, a.CPUModel.Note, "idle node")
		require.Equal(t, r.Report.Candidates[0], a.Decision.MemoryMB, "a CPU-bound action that is not slowed: the smallest size")
	}
}

// stackCandidates are the sizes the stack's profiles allow an action
// (OpenWhisk's actions.memory 128m to 512m in every profile,
// deploy/local/profile), asked for explicitly so that runs under
// different profiles compare the same sizes.
var stackCandidates = []int{128, 192, 256, 320, 384, 448, 512}

// profile is the stack's profile, from its endpoints.json.
func (e *env) profile() string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.stack.Dir, "endpoints.json"))
	require.NoError(e.t, err)
	var ep struct {
		Profile string `json:"profile"`
	}
	require.NoError(e.t, json.Unmarshal(b, &ep))
	if ep.Profile == "" {
		return "default"
	}
	return ep.Profile
}

// wantCPUModel is the CPU model a CPU-bound action shows under profile:
// default caps CPU with a quota ∝ memory, helm and scheduler give shares.
func wantCPUModel(profile string) string {
	if profile == "default" {
		return search.CPUQuota
	}
	return search.CPUShares
}

// actionKind is env.action with the runtime kind given: nodejs:default is
// in every profile's runtimes (helm's nodejs is 14, not 20).
func (e *env) actionKind(name, kind, code string, memoryMB, timeoutMs int) {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{"exec": map[string]any{"kind": kind, "code": code},
		"limits": map[string]any{"memory": memoryMB, "timeout": timeoutMs}})
	require.NoError(e.t, err)
	code2, resp := e.rest(http.MethodPut, "actions/"+name+"?overwrite=true", string(body))
	require.Equal(e.t, http.StatusOK, code2, string(resp))
	_, err = e.reg.Update(e.ctx, "guest", name, func(f *registry.Function) error {
		f.State = registry.Latest
		return nil
	})
	require.NoError(e.t, err)
}
