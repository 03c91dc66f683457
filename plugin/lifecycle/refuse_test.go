package lifecycle

import (
	"errors"
	"testing"

	"github.com/fnmgr/fnmgr/plugin/registry"
)

// TestRefuse: what every transition but unblock answers a function in each
// state before it records an intent (block and retire first treat their
// own target state as done).
func TestRefuse(t *testing.T) {
	cases := []struct {
		state registry.State
		want  error // nil: the transition may go on
	}{
		{registry.Latest, nil},
		{registry.Published, nil},
		{registry.Blocked, nil},
		{registry.Updating, registry.ErrLocked},
		{registry.Retired, registry.ErrGone},
	}
	for _, c := range cases {
		t.Run(string(c.state), func(t *testing.T) {
			f := registry.Function{Namespace: "guest", Name: "hello", State: c.state}
			err := refuse(f, "block")
			if c.want == nil {
				if err != nil {
					t.Fatalf("refuse = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("refuse = %v, want %v", err, c.want)
			}
			if want := "block: function guest/hello is " + string(c.state); err.Error()[:len(want)] != want {
				t.Fatalf("refuse = %q, want it to start %q", err, want)
			}
		})
	}
}
