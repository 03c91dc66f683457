package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/deployment"
	"github.com/fnmgr/fnmgr/plugin/registry"
)

type fakeRules entity.RootInfo

func (r fakeRules) Root(context.Context) (entity.RootInfo, error) { return entity.RootInfo(r), nil }

// TestCheckRulesNamesWhatTheUserSent: an update breaking the deployment's
// limits is refused (ErrInvalid, 400) with a message that names the
// setting as the update's body names it (limits.memory, not "memory size"
// or Limits.Memory), so the admin API's caller knows what to change.
func TestCheckRulesNamesWhatTheUserSent(t *testing.T) {
	const mib = 1 << 20
	rules := fakeRules{
		Limits: entity.SystemLimits{MinActionMemory: 128 * mib, MaxActionMemory: 512 * mib,
			MinActionDuration: 100, MaxActionDuration: 300_000, MinActionLogs: 0, MaxActionLogs: 10 * mib},
		Runtimes: map[string][]entity.RuntimeInfo{"nodejs": {{Kind: "nodejs:20", Default: true}}},
	}
	ok := registry.Snapshot{Exec: registry.ExecSnapshot{Kind: "nodejs:20"},
		Limits: entity.Limits{Memory: 256, Timeout: 60_000, Logs: 10, Concurrency: 1}}
	cases := []struct {
		name string
		mod  func(*registry.Snapshot)
		want string // "": valid
	}{
		{"within the limits", func(*registry.Snapshot) {}, ""},
		{"default kind", func(s *registry.Snapshot) { s.Exec.Kind = "nodejs:default" }, ""},
		{"memory below", func(s *registry.Snapshot) { s.Limits.Memory = 64 }, "limits.memory 64 MB below allowed threshold of 128 MB"},
		{"memory above", func(s *registry.Snapshot) { s.Limits.Memory = 1024 }, "limits.memory 1024 MB exceeds allowed threshold of 512 MB"},
		{"timeout below", func(s *registry.Snapshot) { s.Limits.Timeout = 99 }, "limits.timeout 99 milliseconds below allowed threshold of 100 milliseconds"},
		{"timeout above", func(s *registry.Snapshot) { s.Limits.Timeout = 300_001 }, "limits.timeout 300001 milliseconds exceeds allowed threshold of 300000 milliseconds"},
		{"logs above", func(s *registry.Snapshot) { s.Limits.Logs = 11 }, "limits.logs 11 MB must be between 0 and 10 MB"},
		{"concurrency zero", func(s *registry.Snapshot) { s.Limits.Concurrency = 0 }, "limits.concurrency 0 must be at least 1"},
		{"unknown kind", func(s *registry.Snapshot) { s.Exec.Kind = "ruby:2.5" }, `exec.kind "ruby:2.5" is not a runtime this deployment offers`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := ok
			c.mod(&s)
			err := (&Controller{rules: rules}).checkRules(context.Background(), "guest", s)
			if c.want == "" {
				if err != nil {
					t.Fatalf("checkRules = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, registry.ErrInvalid) {
				t.Fatalf("checkRules = %v, want registry.ErrInvalid", err)
			}
			if got := err.Error(); got != c.want+": "+registry.ErrInvalid.Error() {
				t.Fatalf("message\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

type pool int

func (p pool) MaxMemoryMB() int { return int(p) }

// TestCheckRulesWithDeploymentBounds: with plugin/deployment as the rules,
// an update's limits are held to the tightest bound (MAX_MEMORY, GET /, the
// namespace's limits) and the 400 names it and where it comes from.
func TestCheckRulesWithDeploymentBounds(t *testing.T) {
	const mib = 1 << 20
	root := entity.RootInfo{Limits: entity.SystemLimits{MinActionMemory: 128 * mib, MaxActionMemory: 512 * mib,
		MinActionDuration: 100, MaxActionDuration: 300_000, MaxActionLogs: 10 * mib},
		Runtimes: map[string][]entity.RuntimeInfo{"nodejs": {{Kind: "nodejs:14", Default: true}}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(root)
	}))
	t.Cleanup(srv.Close)
	ok := registry.Snapshot{Exec: registry.ExecSnapshot{Kind: "nodejs:14"},
		Limits: entity.Limits{Memory: 256, Timeout: 60_000, Logs: 10, Concurrency: 1}}
	cases := []struct {
		name string
		pool int
		mod  func(*registry.Snapshot)
		want string
	}{
		{"within", 2048, func(*registry.Snapshot) {}, ""},
		{"above the controller's", 2048, func(s *registry.Snapshot) { s.Limits.Memory = 1024 },
			"limits.memory 1024 MB exceeds 512 MB, the controller's max_action_memory (GET /)"},
		{"above the invoker pool", 384, func(s *registry.Snapshot) { s.Limits.Memory = 448 },
			"limits.memory 448 MB exceeds 384 MB, MAX_MEMORY, the largest invoker user memory (health pings)"},
		{"timeout", 2048, func(s *registry.Snapshot) { s.Limits.Timeout = 300_001 },
			"limits.timeout 300001 ms exceeds 300000 ms, the controller's max_action_duration (GET /)"},
		{"kind not offered", 2048, func(s *registry.Snapshot) { s.Exec.Kind = "nodejs:20" }, `exec.kind "nodejs:20" is not a runtime`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := ok
			c.mod(&s)
			d := deployment.New(deployment.Options{ControllerURL: srv.URL, Memory: pool(c.pool)})
			err := (&Controller{rules: d}).checkRules(t.Context(), "guest", s)
			if c.want == "" {
				if err != nil {
					t.Fatalf("checkRules = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, registry.ErrInvalid) || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("checkRules = %v, want %q (registry.ErrInvalid)", err, c.want)
			}
		})
	}
}

// TestResolveDefaultKind: an update naming "nodejs:default" (what wsk and
// fnmgr update send for a .js file) is stored under the deployment's
// default nodejs kind, as OpenWhisk's controller stores it; a family
// without a default is refused.
func TestResolveDefaultKind(t *testing.T) {
	rules := fakeRules{Runtimes: map[string][]entity.RuntimeInfo{
		"nodejs": {{Kind: "nodejs:16"}, {Kind: "nodejs:14", Default: true}},
		"python": {{Kind: "python:3.11"}},
	}}
	cases := []struct{ kind, want, wantErr string }{
		{"nodejs:default", "nodejs:14", ""},
		{"nodejs:16", "nodejs:16", ""},
		{"sequence", "sequence", ""},
		{"python:default", "", `exec.kind "python:default": the deployment has no default python kind`},
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			s := registry.Snapshot{Exec: registry.ExecSnapshot{Kind: c.kind}}
			err := (&Controller{rules: rules}).resolveDefaultKind(t.Context(), &s)
			if c.wantErr != "" {
				if !errors.Is(err, registry.ErrInvalid) || !strings.HasPrefix(err.Error(), c.wantErr) {
					t.Fatalf("resolveDefaultKind = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || s.Exec.Kind != c.want {
				t.Fatalf("resolveDefaultKind = %q, %v; want %q", s.Exec.Kind, err, c.want)
			}
		})
	}
}
