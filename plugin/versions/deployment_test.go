package versions_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/deployment"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/versions"
)

// maxMemory is a deployment whose memory bound is max MB.
type maxMemory int

func (m maxMemory) CheckLimits(_ context.Context, _ string, memory, _, _ *int, field func(string) string) error {
	return deployment.Range{Unit: "MB", Min: deployment.Bound{Value: 128, Source: "min"},
		Max: deployment.Bound{Value: int(m), Source: "the controller's max_action_memory (GET /)"}}.Check(field("memory"), *memory)
}

func (m maxMemory) FitLimits(_ context.Context, _ string, l entity.Limits) (entity.Limits, error) {
	l.Memory = deployment.Range{Unit: "MB", Min: deployment.Bound{Value: 128}, Max: deployment.Bound{Value: int(m)}}.Fit(l.Memory)
	return l, nil
}

// unknownRanges is a deployment whose ranges cannot be read.
type unknownRanges struct{ maxMemory }

func (unknownRanges) FitLimits(_ context.Context, _ string, l entity.Limits) (entity.Limits, error) {
	return l, errors.New("controller unreachable")
}

// TestStubLimitsWithinDeployment: a function whose limits the deployment
// refuses (written straight into CouchDB with 768 MB where 512 is the
// most) gets a stub the deployment runs, so that an invocation is refused
// with the function's state rather than OpenWhisk's limits error; its own
// limits come back when it may run again. When the ranges cannot be read,
// the stub keeps the function's limits.
func TestStubLimitsWithinDeployment(t *testing.T) {
	tests := []struct {
		name   string
		limits versions.LimitsChecker
		want   int
	}{
		{"fitted into the deployment", maxMemory(512), 512},
		{"within the deployment: unchanged", maxMemory(1024), 768},
		{"ranges unknown: the function's own", unknownRanges{maxMemory(512)}, 768},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "couch")
			ctx := e.Ctx
			e.put("big", "function main(){return {v:1}}", 768)
			e.waitRevisions("big", 1)
			e.Stop()
			ctl := versions.New(versions.Options{Registry: e.Reg, Storage: e.Store, Actions: e.Actions, Limits: tc.limits})
			t.Cleanup(ctl.Close)
			set := func(s registry.State) registry.Function {
				f, err := e.Reg.Update(ctx, "guest", "big", func(f *registry.Function) error {
					f.State, f.Reason = s, "incident"
					return nil
				})
				require.NoError(t, err)
				require.Eventually(t, func() bool { return ctl.Materialize(ctx, f) == nil }, 5*time.Second, 20*time.Millisecond)
				return f
			}
			set(registry.Blocked)
			require.True(t, versions.HasStubMarker([]byte(e.Code("guest/big"))))
			require.Equal(t, tc.want, e.Action("guest/big").Limits.Memory)

			set(registry.Latest)
			require.Equal(t, "function main(){return {v:1}}", e.Code("guest/big"))
			require.Equal(t, 768, e.Action("guest/big").Limits.Memory, "the function's own limits again")
		})
	}
}

type stubKinds struct {
	kind string
	err  error
}

func (s stubKinds) StubKind(context.Context) (string, error) { return s.kind, s.err }

// TestRollbackWithinDeployment: a version published under wider limits is
// not written back when the deployment no longer allows them; the head
// stays as it was.
func TestRollbackWithinDeployment(t *testing.T) {
	e := newEnv(t, "couch")
	ctx := e.Ctx
	e.put("wide", "function main(){return {v:1}}", 768)
	e.waitRevisions("wide", 1)
	_, err := e.Ctl.Publish(ctx, "guest", "wide", "", "test")
	require.NoError(t, err)
	e.put("wide", "function main(){return {v:2}}", 256)
	e.waitRevisions("wide", 2)

	ctl := versions.New(versions.Options{Registry: e.Reg, Storage: e.Store, Actions: e.Actions, Limits: maxMemory(512)})
	t.Cleanup(ctl.Close)
	_, err = ctl.Rollback(ctx, "guest", "wide", 1)
	require.ErrorIs(t, err, registry.ErrInvalid)
	require.ErrorIs(t, err, deployment.ErrOutOfBounds)
	require.Contains(t, err.Error(), "version 1's limits.memory 768 MB exceeds 512 MB, the controller's max_action_memory (GET /)")
	require.Equal(t, 256, e.Action("guest/wide").Limits.Memory, "nothing written")
	require.Equal(t, "function main(){return {v:2}}", e.Code("guest/wide"))

	ctl = versions.New(versions.Options{Registry: e.Reg, Storage: e.Store, Actions: e.Actions, Limits: maxMemory(1024)})
	t.Cleanup(ctl.Close)
	_, err = ctl.Rollback(ctx, "guest", "wide", 1)
	require.NoError(t, err, "within the bound")
	require.Equal(t, 768, e.Action("guest/wide").Limits.Memory)
}

// TestStubKindFromDeployment: the stub of a blocked function whose kind is
// neither nodejs nor python takes the kind the deployment offers; python
// and nodejs functions keep their own; the configured default is used only
// when the deployment cannot answer.
func TestStubKindFromDeployment(t *testing.T) {
	tests := []struct {
		name, kind string
		kinds      stubKinds
		want       string
		python     bool
	}{
		{"java on helm", "java:8", stubKinds{kind: "nodejs:14"}, "nodejs:14", false},
		{"java with a python stub kind", "java:8", stubKinds{kind: "python:3.11"}, "python:3.11", true},
		{"python keeps its kind", "python:3", stubKinds{kind: "nodejs:14"}, "python:3", true},
		{"controller never reached", "java:8", stubKinds{err: errors.New("connection refused")}, "nodejs:18", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "couch")
			ctx := e.Ctx
			code := "function main(){return {}}"
			if tc.kind == "python:3" {
				code = "def main(a):\n    return {}\n"
			}
			e.Put("fn", tc.kind, code, 256, nil)
			e.waitRevisions("fn", 1)
			// Only the controller under test writes from here on (the
			// env's own writes its state annotations shortly after a
			// change: a conflict to retry).
			e.Stop()
			f, err := e.Reg.Update(ctx, "guest", "fn", func(f *registry.Function) error {
				f.State, f.Reason = registry.Blocked, "incident"
				return nil
			})
			require.NoError(t, err)
			ctl := versions.New(versions.Options{Registry: e.Reg, Storage: e.Store, Actions: e.Actions,
				StubKind: "nodejs:18", StubKinds: tc.kinds})
			t.Cleanup(ctl.Close)
			require.Eventually(t, func() bool { return ctl.Materialize(ctx, f) == nil }, 5*time.Second, 20*time.Millisecond)
			a := e.Action("guest/fn")
			require.Equal(t, tc.want, a.Exec.Kind)
			stub := e.Code("guest/fn")
			require.True(t, versions.HasStubMarker([]byte(stub)))
			if tc.python {
				require.Contains(t, stub, "def main")
			} else {
				require.Contains(t, stub, "function main")
			}
			require.Contains(t, stub, "BLOCKED")
		})
	}
}
