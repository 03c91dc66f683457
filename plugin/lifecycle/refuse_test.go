package lifecycle

import (
	"errors"
	"strings"
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

// TestRefuseUntracked: a function fnmgr knows only as untracked (its code,
// kept outside CouchDB, could not be read) has no revision to write stubs
// from or to restore: transitions are refused with 409 and the reason, and
// change nothing. One with revisions goes on.
func TestRefuseUntracked(t *testing.T) {
	const why = "revision 1-abc: code outside CouchDB"
	for _, c := range []struct {
		name      string
		revisions int
		want      error
	}{
		{"never recorded", 0, registry.ErrConflict},
		{"recorded before", 3, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := registry.Function{Namespace: "guest", Name: "s3", State: registry.Latest, Revisions: c.revisions, Untracked: why}
			for _, op := range []string{"block", "retire", "update"} {
				err := refuse(f, op)
				if c.want == nil {
					if err != nil {
						t.Fatalf("%s: refuse = %v, want nil", op, err)
					}
					continue
				}
				if !errors.Is(err, c.want) || !strings.Contains(err.Error(), why) {
					t.Fatalf("%s: refuse = %v, want %v naming the reason", op, err, c.want)
				}
			}
		})
	}
}
