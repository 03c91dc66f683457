package deployment

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/registry"
)

// contractRoot is OpenWhisk's GET / as the contract records it
// (max_action_memory 512 MB, min 128 MB, nodejs:20 the default nodejs kind),
// from the copy of the contract kept in the repository.
func contractRoot(t *testing.T) entity.RootInfo {
	raw, err := os.ReadFile("../../tests/contract/testdata/openwhisk/rest-root-info.json")
	require.NoError(t, err)
	var root entity.RootInfo
	require.NoError(t, json.Unmarshal(raw, &root))
	return root
}

// helmRoot is GET / of openwhisk-deploy-kube's controller: its
// helm/openwhisk/runtimes.json offers nodejs:14 (default) and nodejs:16,
// python:3, java:8 and more.
func helmRoot(t *testing.T) entity.RootInfo {
	root := contractRoot(t)
	root.Runtimes = map[string][]entity.RuntimeInfo{
		"nodejs": {{Kind: "nodejs:16"}, {Kind: "nodejs:14", Default: true}},
		"python": {{Kind: "python:3", Default: true}},
		"java":   {{Kind: "java:8", Default: true}},
	}
	return root
}

type fakeKeys map[string]string

func (k fakeKeys) KeyFor(_ context.Context, ns string) (string, error) {
	if key, ok := k[ns]; ok {
		return key, nil
	}
	return "", errors.New("no subject owns " + ns)
}

type pings int

func (p pings) MaxMemoryMB() int { return int(p) }

// controller serves GET / and, when nsLimits is not nil, GET
// /api/v1/namespaces/guest/limits for guest's key (404 otherwise, as a
// controller without the route answers).
func controller(t *testing.T, root entity.RootInfo, nsLimits map[string]any) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			_ = json.NewEncoder(w).Encode(root)
		case "/api/v1/namespaces/guest/limits":
			if u, p, _ := r.BasicAuth(); u != "uuid" || p != "secret" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			if nsLimits == nil {
				http.NotFound(w, r)
				return
			}
			_ = json.NewEncoder(w).Encode(nsLimits)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func ptr(v int) *int { return &v }

func TestCheckLimits(t *testing.T) {
	root := contractRoot(t)
	guestLimits := map[string]any{"invocationsPerMinute": 60, "concurrentInvocations": 30, "minActionMemory": 128, "maxActionMemory": 256,
		"minActionTimeout": 100, "maxActionTimeout": 60000, "minActionLogs": 0, "maxActionLogs": 5}
	tests := []struct {
		name          string
		pool          int            // MAX_MEMORY from pings (0: none)
		configured    int            // --max-memory
		defaultMax    int            // GET /'s default_max_action_memory (0: as the contract)
		nsLimits      map[string]any // nil: the controller has no GET …/limits
		memory        *int
		timeout, logs *int
		wantErr       string // "" when within bounds
	}{
		{name: "within the controller's bounds", pool: 2048, memory: ptr(512)},
		{name: "above the controller's max_action_memory", pool: 2048, memory: ptr(1024),
			wantErr: "limits.memory 1024 MB exceeds 512 MB, the controller's max_action_memory (GET /)"},
		{name: "no ping: the controller's limits alone", memory: ptr(1024),
			wantErr: "limits.memory 1024 MB exceeds 512 MB, the controller's max_action_memory (GET /)"},
		{name: "no ping: within the controller's limits", memory: ptr(512)},
		{name: "invoker pool smaller than the controller allows", pool: 384, memory: ptr(448),
			wantErr: "limits.memory 448 MB exceeds 384 MB, MAX_MEMORY, the largest invoker user memory (health pings)"},
		{name: "configured MAX_MEMORY", pool: 2048, configured: 256, memory: ptr(320),
			wantErr: "exceeds 256 MB, MAX_MEMORY (--max-memory, FNMGR_MAX_MEMORY)"},
		{name: "namespace limit tighter", pool: 2048, nsLimits: guestLimits, memory: ptr(320),
			wantErr: "limits.memory 320 MB exceeds 256 MB, the namespace's maxActionMemory (GET /api/v1/namespaces/guest/limits)"},
		{name: "below the controller's minimum", pool: 2048, memory: ptr(64),
			wantErr: "limits.memory 64 MB is below 128 MB, the controller's min_action_memory (GET /)"},
		{name: "timeout above the controller's", pool: 2048, timeout: ptr(300001),
			wantErr: "limits.timeout 300001 ms exceeds 300000 ms, the controller's max_action_duration (GET /)"},
		{name: "timeout above the namespace's", pool: 2048, nsLimits: guestLimits, timeout: ptr(60001),
			wantErr: "exceeds 60000 ms, the namespace's maxActionTimeout"},
		{name: "logs above the namespace's", pool: 2048, nsLimits: guestLimits, logs: ptr(6),
			wantErr: "limits.logs 6 MB exceeds 5 MB, the namespace's maxActionLogs"},
		{name: "logs within the controller's", pool: 2048, logs: ptr(10)},
		{name: "namespace default below the system's bound", pool: 2048, defaultMax: 384, memory: ptr(448),
			wantErr: "limits.memory 448 MB exceeds 384 MB, the controller's default_max_action_memory (GET /)"},
		{name: "namespace route answers: its limit, not the default", pool: 2048, defaultMax: 384, nsLimits: map[string]any{"maxActionMemory": 512},
			memory: ptr(448)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := root
			if tc.defaultMax > 0 {
				root.Limits.DefaultMaxActionMemory = int64(tc.defaultMax) << 20
			}
			srv := controller(t, root, tc.nsLimits)
			d := New(Options{ControllerURL: srv.URL, Memory: pings(tc.pool), MaxMemoryMB: tc.configured,
				Keys: fakeKeys{"guest": "uuid:secret"}})
			err := d.CheckLimits(t.Context(), "guest", tc.memory, tc.timeout, tc.logs, func(f string) string { return "limits." + f })
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, registry.ErrInvalid, "a 400")
			require.ErrorIs(t, err, ErrOutOfBounds)
			require.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestFitLimits(t *testing.T) {
	root := contractRoot(t) // memory 128..512 MB, timeout 100..300000 ms, logs 0..10 MB
	guest := map[string]any{"maxActionMemory": 256, "maxActionTimeout": 60000, "maxActionLogs": 5}
	tests := []struct {
		name     string
		nsLimits map[string]any
		in, want entity.Limits
	}{
		{"within: unchanged", nil, entity.Limits{Memory: 256, Timeout: 60000, Logs: 10, Concurrency: 1},
			entity.Limits{Memory: 256, Timeout: 60000, Logs: 10, Concurrency: 1}},
		{"above the controller's maximum", nil, entity.Limits{Memory: 1024, Timeout: 600000, Logs: 50, Concurrency: 1},
			entity.Limits{Memory: 512, Timeout: 300000, Logs: 10, Concurrency: 1}},
		{"below the minimum", nil, entity.Limits{Memory: 64, Timeout: 10, Logs: 0, Concurrency: 1},
			entity.Limits{Memory: 128, Timeout: 100, Logs: 0, Concurrency: 1}},
		{"the namespace's tighter bounds", guest, entity.Limits{Memory: 512, Timeout: 300000, Logs: 10, Concurrency: 1},
			entity.Limits{Memory: 256, Timeout: 60000, Logs: 5, Concurrency: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := New(Options{ControllerURL: controller(t, root, tc.nsLimits).URL, Keys: fakeKeys{"guest": "uuid:secret"}})
			got, err := d.FitLimits(t.Context(), "guest", tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}

	// Ranges unknown (the controller is down): the limits as they were,
	// and the error.
	srv := controller(t, root, nil)
	srv.Close()
	in := entity.Limits{Memory: 1024, Timeout: 60000, Logs: 10, Concurrency: 1}
	got, err := New(Options{ControllerURL: srv.URL}).FitLimits(t.Context(), "guest", in)
	require.Error(t, err)
	require.Equal(t, in, got)
}

func TestMemoryBoundsAndThrottle(t *testing.T) {
	root := contractRoot(t)
	srv := controller(t, root, map[string]any{"invocationsPerMinute": 10, "concurrentInvocations": 5, "maxActionMemory": 256})
	d := New(Options{ControllerURL: srv.URL, Memory: pings(2048), Keys: fakeKeys{"guest": "uuid:secret"}})
	lo, hi, src, err := d.MemoryBounds(t.Context(), "guest")
	require.NoError(t, err)
	require.Equal(t, []any{128, 256}, []any{lo, hi})
	require.Contains(t, src, "maxActionMemory")
	th, err := d.Throttle(t.Context(), "guest")
	require.NoError(t, err)
	require.Equal(t, 10, th.InvocationsPerMinute)
	require.Equal(t, 5, th.ConcurrentInvocations)

	// A namespace without a subject, and a controller without GET
	// …/limits: the controller's bounds and throttle.
	lo, hi, src, err = d.MemoryBounds(t.Context(), "nobody")
	require.NoError(t, err)
	require.Equal(t, []any{128, 512}, []any{lo, hi})
	require.Contains(t, src, "max_action_memory (GET /)")
	th, err = d.Throttle(t.Context(), "nobody")
	require.NoError(t, err)
	require.Equal(t, Throttle{InvocationsPerMinute: 60, ConcurrentInvocations: 30, Source: "GET /"}, th)

	// MaxMemoryMB (the optimizer's bound until it asks MemoryBounds) is
	// the controller's once GET / was read, though the pings say 2048.
	require.Equal(t, 512, d.MaxMemoryMB())

	// Nothing known: an error, not an unbounded write.
	root.Limits.MaxActionMemory, root.Limits.DefaultMaxActionMemory = 0, 0
	bare := New(Options{ControllerURL: controller(t, root, nil).URL})
	_, _, _, err = bare.MemoryBounds(t.Context(), "guest")
	require.ErrorIs(t, err, registry.ErrInvalid)
}

func TestStubKind(t *testing.T) {
	tests := []struct {
		name     string
		root     func(t *testing.T) entity.RootInfo
		override string
		want     string
		wantErr  string
	}{
		{name: "ansible master: the default nodejs kind", root: contractRoot, want: "nodejs:20"},
		{name: "helm: nodejs:14, its default", root: helmRoot, want: "nodejs:14"},
		{name: "override offered", root: helmRoot, override: "nodejs:16", want: "nodejs:16"},
		{name: "python override offered", root: helmRoot, override: "python:3", want: "python:3"},
		{name: "override not offered", root: helmRoot, override: "nodejs:20", wantErr: "nodejs:20 (--stub-kind, FNMGR_STUB_KIND) is not a kind the controller offers (GET /: java:8, nodejs:14, nodejs:16, python:3)"},
		{name: "override that cannot carry a stub", root: helmRoot, override: "java:8", wantErr: "cannot carry a stub"},
		{name: "python only", root: func(t *testing.T) entity.RootInfo {
			r := contractRoot(t)
			delete(r.Runtimes, "nodejs")
			return r
		}, want: "python:3.10"},
		{name: "no default nodejs: the newest", root: func(t *testing.T) entity.RootInfo {
			r := contractRoot(t)
			r.Runtimes["nodejs"] = []entity.RuntimeInfo{{Kind: "nodejs:18"}, {Kind: "nodejs:20", Deprecated: true}}
			return r
		}, want: "nodejs:18"},
		{name: "neither nodejs nor python", root: func(t *testing.T) entity.RootInfo {
			r := contractRoot(t)
			r.Runtimes = map[string][]entity.RuntimeInfo{"java": {{Kind: "java:8", Default: true}}}
			return r
		}, wantErr: "offers no nodejs or python kind"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := New(Options{ControllerURL: controller(t, tc.root(t), nil).URL, StubKind: tc.override})
			k, err := d.StubKind(t.Context())
			checkErr := d.CheckStubKind(t.Context())
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.ErrorContains(t, checkErr, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.NoError(t, checkErr)
			require.Equal(t, tc.want, k)
		})
	}
}

// TestStubKindControllerDown: once known, the kinds survive the controller
// going away; never known, StubKind fails rather than guess.
func TestStubKindControllerDown(t *testing.T) {
	srv := controller(t, helmRoot(t), nil)
	d := New(Options{ControllerURL: srv.URL, Refresh: 1})
	k, err := d.StubKind(t.Context())
	require.NoError(t, err)
	require.Equal(t, "nodejs:14", k)
	srv.Close()
	k, err = d.StubKind(t.Context())
	require.NoError(t, err)
	require.Equal(t, "nodejs:14", k)
	_, err = New(Options{ControllerURL: srv.URL}).StubKind(t.Context())
	require.Error(t, err)
}
