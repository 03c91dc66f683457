package limits

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
)

func intp(v int) *int { return &v }

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestWithDefaults(t *testing.T) {
	t.Parallel()
	got := Ranges{}.WithDefaults()
	require.Equal(t, Ranges{MinMemoryMB: 128, MaxMemoryMB: 512, MinTimeoutMS: 100, MaxTimeoutMS: 300000,
		MinLogsMB: 0, MaxLogsMB: 10, MinConcurrency: 1, MaxConcurrency: 1}, got)
	set := Ranges{MinMemoryMB: 64, MaxMemoryMB: 2048}.WithDefaults()
	require.Equal(t, [2]int{64, 2048}, [2]int{set.MinMemoryMB, set.MaxMemoryMB}, "set fields stay")
}

func TestFor(t *testing.T) {
	t.Parallel()
	sys := Ranges{}.WithDefaults()
	cases := []struct {
		name string
		ns   *entity.NamespaceLimits
		want Ranges
	}{
		{"no document", nil, sys},
		{"document without ranges", &entity.NamespaceLimits{InvocationsPerMinute: intp(5)}, sys},
		{"every field", &entity.NamespaceLimits{
			MinActionMemory: intp(64), MaxActionMemory: intp(1024), MinActionTimeout: intp(50), MaxActionTimeout: intp(600000),
			MinActionLogs: intp(1), MaxActionLogs: intp(20), MinActionConcurrency: intp(2), MaxActionConcurrency: intp(8),
		}, Ranges{MinMemoryMB: 64, MaxMemoryMB: 1024, MinTimeoutMS: 50, MaxTimeoutMS: 600000,
			MinLogsMB: 1, MaxLogsMB: 20, MinConcurrency: 2, MaxConcurrency: 8}},
		{"one field", &entity.NamespaceLimits{MaxActionMemory: intp(192)},
			func() Ranges { r := sys; r.MaxMemoryMB = 192; return r }()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, sys.For(tc.ns))
		})
	}
}

// TestCheck is the invoker's check of a whole limits document, in
// checkLimits' order: timeout, memory, concurrency, logs.
func TestCheck(t *testing.T) {
	t.Parallel()
	std := entity.DefaultLimits()
	with := func(f func(*entity.Limits)) entity.Limits { l := std; f(&l); return l }
	cases := []struct {
		name   string
		ns     *entity.NamespaceLimits
		limits entity.Limits
		want   string // "" = allowed
	}{
		{"standard", nil, std, ""},
		{"512 MB", nil, with(func(l *entity.Limits) { l.Memory = 512 }), ""},
		{"1024 MB", nil, with(func(l *entity.Limits) { l.Memory = 1024 }), "memory size 1024 MB exceeds allowed threshold of 512 MB"},
		{"64 MB", nil, with(func(l *entity.Limits) { l.Memory = 64 }), "memory size 64 MB below allowed threshold of 128 MB"},
		{"1024 MB, namespace allows it", &entity.NamespaceLimits{MaxActionMemory: intp(1024)}, with(func(l *entity.Limits) { l.Memory = 1024 }), ""},
		{"256 MB, namespace max 192", &entity.NamespaceLimits{MaxActionMemory: intp(192)}, std, "memory size 256 MB exceeds allowed threshold of 192 MB"},
		{"timeout checked before memory", nil, with(func(l *entity.Limits) { l.Memory = 1024; l.Timeout = 600000 }),
			"duration 600000 milliseconds exceeds allowed threshold of 300000 milliseconds"},
		{"timeout too short", nil, with(func(l *entity.Limits) { l.Timeout = 50 }), "duration 50 milliseconds below allowed threshold of 100 milliseconds"},
		{"concurrency", nil, with(func(l *entity.Limits) { l.Concurrency = 5 }), "concurrency 5 exceeds allowed threshold of 1"},
		{"concurrency absent is 1", nil, with(func(l *entity.Limits) { l.Concurrency = 0 }), ""},
		{"concurrency checked before logs", nil, with(func(l *entity.Limits) { l.Concurrency = 5; l.Logs = 20 }), "concurrency 5 exceeds allowed threshold of 1"},
		{"logs", nil, with(func(l *entity.Limits) { l.Logs = 20 }), "log size 20 MB exceeds allowed threshold of 10 MB"},
		{"logs below the namespace's min", &entity.NamespaceLimits{MinActionLogs: intp(5)}, with(func(l *entity.Limits) { l.Logs = 1 }),
			"log size 1 MB below allowed threshold of 5 MB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, errText(Ranges{}.WithDefaults().For(tc.ns).Check(tc.limits)))
		})
	}
}

// TestCheckPut is the controller's check of the limits a PUT sends, in
// checkActionLimits' order: memory, timeout, logs, concurrency.
func TestCheckPut(t *testing.T) {
	t.Parallel()
	nsDoc := &entity.NamespaceLimits{MaxActionMemory: intp(1024), MinActionTimeout: intp(1000)}
	cases := []struct {
		name string
		ns   *entity.NamespaceLimits
		put  *entity.LimitsPut
		want string // "" = allowed
	}{
		{"no limits", nil, nil, ""},
		{"nothing sent", nil, &entity.LimitsPut{}, ""},
		{"in range", nil, &entity.LimitsPut{Memory: intp(512), Timeout: intp(100), Logs: intp(0), Concurrency: intp(1)}, ""},
		{"memory above", nil, &entity.LimitsPut{Memory: intp(1024)}, "memory size 1024 MB exceeds allowed threshold of 512 MB"},
		{"memory below", nil, &entity.LimitsPut{Memory: intp(127)}, "memory size 127 MB below allowed threshold of 128 MB"},
		{"timeout above", nil, &entity.LimitsPut{Timeout: intp(600000)}, "duration 600000 milliseconds exceeds allowed threshold of 300000 milliseconds"},
		{"timeout below", nil, &entity.LimitsPut{Timeout: intp(99)}, "duration 99 milliseconds below allowed threshold of 100 milliseconds"},
		{"logs above", nil, &entity.LimitsPut{Logs: intp(11)}, "log size 11 MB exceeds allowed threshold of 10 MB"},
		{"concurrency above", nil, &entity.LimitsPut{Concurrency: intp(2)}, "concurrency 2 exceeds allowed threshold of 1"},
		{"concurrency sent as 0", nil, &entity.LimitsPut{Concurrency: intp(0)}, "concurrency 0 below allowed threshold of 1"},
		{"memory checked before timeout", nil, &entity.LimitsPut{Memory: intp(1024), Timeout: intp(600000)},
			"memory size 1024 MB exceeds allowed threshold of 512 MB"},
		{"logs checked before concurrency", nil, &entity.LimitsPut{Logs: intp(11), Concurrency: intp(2)},
			"log size 11 MB exceeds allowed threshold of 10 MB"},
		{"namespace raises memory", nsDoc, &entity.LimitsPut{Memory: intp(1024)}, ""},
		{"namespace raises min timeout", nsDoc, &entity.LimitsPut{Timeout: intp(500)}, "duration 500 milliseconds below allowed threshold of 1000 milliseconds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, errText(Ranges{}.WithDefaults().For(tc.ns).CheckPut(tc.put)))
		})
	}
}
