package invoker

import (
	"encoding/json"
	"testing"

	"github.com/fnmgr/fnmgr/couch/entity"
)

func TestLimitsCheck(t *testing.T) {
	t.Parallel()
	std := entity.DefaultLimits()
	with := func(f func(*entity.Limits)) entity.Limits { l := std; f(&l); return l }
	cases := []struct {
		name   string
		ns     string // the message's namespace limits document
		limits entity.Limits
		want   string // "" = allowed
	}{
		{"standard", "", std, ""},
		{"512 MB", "", with(func(l *entity.Limits) { l.Memory = 512 }), ""},
		{"1024 MB", "", with(func(l *entity.Limits) { l.Memory = 1024 }), "memory size 1024 MB exceeds allowed threshold of 512 MB"},
		{"64 MB", "", with(func(l *entity.Limits) { l.Memory = 64 }), "memory size 64 MB below allowed threshold of 128 MB"},
		{"1024 MB, namespace allows it", `{"maxActionMemory":1024}`, with(func(l *entity.Limits) { l.Memory = 1024 }), ""},
		{"256 MB, namespace max 192", `{"maxActionMemory":192}`, std, "memory size 256 MB exceeds allowed threshold of 192 MB"},
		{"timeout checked first", "", with(func(l *entity.Limits) { l.Memory = 1024; l.Timeout = 600000 }),
			"duration 600000 milliseconds exceeds allowed threshold of 300000 milliseconds"},
		{"timeout too short", "", with(func(l *entity.Limits) { l.Timeout = 50 }), "duration 50 milliseconds below allowed threshold of 100 milliseconds"},
		{"concurrency", "", with(func(l *entity.Limits) { l.Concurrency = 5 }), "concurrency 5 exceeds allowed threshold of 1"},
		{"concurrency absent is 1", "", with(func(l *entity.Limits) { l.Concurrency = 0 }), ""},
		{"logs", "", with(func(l *entity.Limits) { l.Logs = 20 }), "log size 20 MB exceeds allowed threshold of 10 MB"},
		{"undecodable namespace document", `[1]`, with(func(l *entity.Limits) { l.Memory = 1024 }), "memory size 1024 MB exceeds allowed threshold of 512 MB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Limits{}.withDefaults().forNamespace(json.RawMessage(tc.ns)).check(tc.limits)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("check = %q, want %q", got, tc.want)
			}
		})
	}
}
