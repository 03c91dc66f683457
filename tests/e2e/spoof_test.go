package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/require"
)

// pwn is what an attacker appends to a copied stub: a later declaration of
// main wins in JavaScript; it leaves a mark when it runs.
const pwn = "\nfunction main(p) { require('fs').appendFileSync(p.marker, 'ran\\n'); return {pwned: true}; }\n"

// stubWithin waits until the controller serves name's stub for state (the
// code names the state and carries no "pwned" and no marker code) within
// d, then until invoking it is refused naming state (an invocation may
// take longer than d on a loaded machine: starting a container).
func stubWithin(t *testing.T, c *whisk.Client, name, state string, d time.Duration) {
	t.Helper()
	last := "no answer yet"
	require.Eventually(t, func() bool {
		a, _, err := c.Actions.Get(name, true)
		if err != nil || a.Exec == nil || a.Exec.Code == nil {
			last = fmt.Sprint(err)
			return false
		}
		last = *a.Exec.Code
		return strings.Contains(last, state) && !strings.Contains(last, "pwned") && !strings.Contains(last, "appendFileSync")
	}, d, 10*time.Millisecond, "%s is %s's stub again within %s; last code: %s", name, state, d, lastSeen{&last})
	require.Eventually(t, func() bool {
		res, err := invokeResult(c, name, nil)
		last = fmt.Sprint(res, err)
		return err != nil && strings.Contains(err.Error(), state)
	}, 20*time.Second, 20*time.Millisecond, "%s refused as %s; last answer: %s", name, state, lastSeen{&last})
}

// lastSeen prints, when a failure message is formatted, what a wait saw
// last.
type lastSeen struct{ p *string }

func (l lastSeen) String() string { return *l.p }

// neverRuns invokes each name a few times on the controller: each is
// refused naming state and the marker shows no run.
func neverRuns(t *testing.T, c *whisk.Client, marker, state string, names ...string) {
	t.Helper()
	ran := runs(t, marker)
	for i := 0; i < 3; i++ {
		for _, n := range names {
			_, err := invokeResult(c, n, nil)
			require.ErrorContains(t, err, state, "%s", n)
		}
	}
	require.Equal(t, ran, runs(t, marker), "the appended code never runs")
}

// spoofStub writes name on the controller as `wsk action get name --save`,
// appending code, then `wsk action update name` would: the stub's own code
// and kind with pwn appended.
func spoofStub(t *testing.T, c *whisk.Client, name, marker string) {
	t.Helper()
	cur, _, err := c.Actions.Get(name, true)
	require.NoError(t, err)
	require.NotNil(t, cur.Exec.Code)
	code := *cur.Exec.Code + pwn
	a := &whisk.Action{Name: name, Namespace: "_", Exec: &whisk.Exec{Kind: cur.Exec.Kind, Code: &code},
		Parameters: whisk.KeyValueArr{{Key: "marker", Value: marker}}, Annotations: cur.Annotations}
	require.Eventually(t, func() bool {
		_, _, err := c.Actions.Insert(a, true)
		return err == nil // a 409 when fnmgr wrote meanwhile, as OpenWhisk answers
	}, 5*time.Second, 50*time.Millisecond)
}

func revisionCount(t *testing.T, name string) int {
	t.Helper()
	var revs []map[string]any
	require.Equal(t, 200, admin(t, "GET", fnPath(name)+"/revisions", nil, &revs))
	return len(revs)
}

// TestCopiedStubNeverRuns is issue 16 item 1 on the controller directly:
// a blocked or retired function's stub, read back with its code and
// written again with a main of the user's appended, is recorded as a
// revision and never runs after a second; the same for name@1 and an
// alias.
func TestCopiedStubNeverRuns(t *testing.T) {
	need(t)
	c := wsk(t, env.EP.APIHost)
	for _, state := range []string{"BLOCKED", "RETIRED"} {
		t.Run(state, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "marker")
			name := "spoof-" + strings.ToLower(state)
			create(t, c, name, "nodejs:default", markerCode, 0, false, whisk.KeyValue{Key: "marker", Value: marker})
			waitFn(t, name, 5*time.Second, func(f fnView) bool { return f.Head.Revision == 1 })
			require.Equal(t, 201, admin(t, "POST", fnPath(name)+"/versions", nil, nil))
			require.Equal(t, 200, admin(t, "PUT", fnPath(name)+"/aliases/prod", map[string]any{"version": 1}, nil))
			if state == "BLOCKED" {
				require.Equal(t, 200, admin(t, "POST", fnPath(name)+"/block", map[string]any{"reason": "review"}, nil))
			} else {
				require.Equal(t, 200, admin(t, "POST", fnPath(name)+"/retire", map[string]any{"reason": "old", "graceSeconds": 3600}, nil))
			}
			stubWithin(t, c, name, state, 5*time.Second)
			revs := revisionCount(t, name)

			spoofStub(t, c, name, marker)
			stubWithin(t, c, name, state, time.Second)
			require.Eventually(t, func() bool { return revisionCount(t, name) == revs+1 }, 2*time.Second, 20*time.Millisecond,
				"the write is recorded as a revision")
			for _, n := range []string{name + "@1", name + "@prod"} {
				spoofStub(t, c, n, marker)
				stubWithin(t, c, n, state, time.Second)
			}
			neverRuns(t, c, marker, state, name, name+"@1", name+"@prod")
		})
	}
}

// TestDeleteAndRecreateStaysRetired is issue 16 item 9: block a1, delete it
// on the controller (RETIRED), create it again with new code: within the
// grace period the new code does not run (the stub is back within a
// second) and the write is recorded.
func TestDeleteAndRecreateStaysRetired(t *testing.T) {
	need(t)
	c := wsk(t, env.EP.APIHost)
	marker := filepath.Join(t.TempDir(), "marker")
	name := "recreated-a1"
	create(t, c, name, "nodejs:default", "function main(){ return {v: 'old'} }", 0, false)
	waitFn(t, name, 5*time.Second, func(f fnView) bool { return f.Head.Revision == 1 })
	require.Equal(t, 200, admin(t, "POST", fnPath(name)+"/block", nil, nil))
	_, err := c.Actions.Delete(name)
	require.NoError(t, err)
	waitFn(t, name, 5*time.Second, func(f fnView) bool { return f.State == "RETIRED" })

	create(t, c, name, "nodejs:default", markerCode, 0, false, whisk.KeyValue{Key: "marker", Value: marker})
	stubWithin(t, c, name, "RETIRED", time.Second)
	f := waitFn(t, name, 2*time.Second, func(f fnView) bool { return f.Head.Revision == 2 })
	require.Equal(t, "RETIRED", f.State)
	neverRuns(t, c, marker, "RETIRED", name)
}

// TestUsersOwnAliasNameIsRefused is issue 16 item 10: a user's own action
// x@prod is not overwritten by setting alias prod of x: 409 naming it.
func TestUsersOwnAliasNameIsRefused(t *testing.T) {
	need(t)
	c := wsk(t, env.EP.APIHost)
	name := "taken"
	create(t, c, name, "nodejs:default", "function main(){ return {v: 'fn'} }", 0, false)
	waitFn(t, name, 5*time.Second, func(f fnView) bool { return f.Head.Revision == 1 })
	require.Equal(t, 201, admin(t, "POST", fnPath(name)+"/versions", nil, nil))
	create(t, c, name+"@prod", "nodejs:default", "function main(){ return {v: 'mine'} }", 0, false)
	waitFn(t, name+"@prod", 5*time.Second, func(f fnView) bool { return f.Head.Revision == 1 })

	var e struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	require.Equal(t, 409, admin(t, "PUT", fnPath(name)+"/aliases/prod", map[string]any{"version": 1}, &e))
	require.Contains(t, e.Error, "guest/"+name+"@prod")
	require.NotEmpty(t, e.Code)
	res, err := invokeResult(c, name+"@prod", nil)
	require.NoError(t, err)
	require.Equal(t, "mine", res["v"], "the user's action is as it was")
}
