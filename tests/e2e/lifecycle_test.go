package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/require"
)

// markerCode is a nodejs action that appends a line to the file its
// "marker" parameter names each time it runs: proof that user code ran.
const markerCode = `const fs = require('fs');
function main(p) {
  fs.appendFileSync(p.marker, 'ran\n');
  return { ok: true, tag: p.tag || 'v1' };
}`

func runs(t *testing.T, marker string) int {
	t.Helper()
	b, err := os.ReadFile(marker)
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	return strings.Count(string(b), "ran\n")
}

// paths invokes the function every way a stock OpenWhisk can run it and
// returns, per path, the error text the caller saw ("" when it succeeded).
func paths(t *testing.T, c *whisk.Client, name string) map[string]string {
	t.Helper()
	out := map[string]string{}
	errText := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	_, err := invokeResult(c, name, nil)
	out["invoke"] = errText(err)
	_, err = invokeResult(c, name+"@1", nil)
	out["version"] = errText(err)
	_, err = invokeResult(c, name+"@prod", nil)
	out["alias"] = errText(err)
	_, err = invokeResult(c, name+"-seq", nil)
	out["sequence"] = errText(err)

	// A web action called as .http: a refusal is an HTTP error naming the
	// function and its state (423 for BLOCKED).
	resp, err := env.HTTP.Get(env.EP.APIHost + "/api/v1/web/guest/default/" + name)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		out["web"] = fmt.Sprintf("%d %s", resp.StatusCode, b)
	} else {
		out["web"] = ""
	}

	// Trigger → rule → action: find the rule's activation of the action.
	since := time.Now().UnixMilli()
	_, _, err = c.Triggers.Fire(name+"-trigger", map[string]any{})
	require.NoError(t, err)
	var act *whisk.Activation
	require.Eventually(t, func() bool {
		list, _, err := c.Activations.List(&whisk.ActivationListOptions{Name: name, Since: since, Docs: true, Limit: 10})
		c.Namespace = "_"
		for i := range list {
			if len(list[i].Annotations) > 0 && list[i].Cause == "" && list[i].Start >= since {
				act = &list[i]
				return err == nil
			}
		}
		return false
	}, 20*time.Second, 100*time.Millisecond, "the rule's activation of %s", name)
	if act.Response.Success {
		out["trigger"] = ""
	} else {
		out["trigger"] = fmt.Sprint(act.Response.Result)
	}
	return out
}

// TestBlockOnEveryPath is issue 4's first acceptance item, tried with the
// controller directly (no gateway): while blocked, invoke, trigger+rule,
// sequence, web action, name@1 and an alias all fail naming BLOCKED and no
// user code runs; after unblock all work again and the action reads back
// byte for byte.
func TestBlockOnEveryPath(t *testing.T) {
	need(t)
	c := wsk(t, env.EP.APIHost)
	marker := filepath.Join(t.TempDir(), "marker")
	name := "guarded-all"
	mem := 384
	timeout := 20000
	a := &whisk.Action{Name: name, Namespace: "_", Exec: &whisk.Exec{Kind: "nodejs:default", Code: ptr(markerCode)},
		Parameters:  whisk.KeyValueArr{{Key: "marker", Value: marker}},
		Annotations: whisk.KeyValueArr{{Key: "web-export", Value: true}, {Key: "raw-http", Value: false}, {Key: "final", Value: true}},
		Limits:      &whisk.Limits{Memory: &mem, Timeout: &timeout}}
	_, _, err := c.Actions.Insert(a, false)
	require.NoError(t, err)
	waitFn(t, name, 5*time.Second, func(f fnView) bool { return f.Head.Revision == 1 })
	require.Equal(t, 201, admin(t, "POST", fnPath(name)+"/versions", nil, nil))
	require.Equal(t, 200, admin(t, "PUT", fnPath(name)+"/aliases/prod", map[string]any{"version": 1}, nil))
	seq := &whisk.Action{Name: name + "-seq", Namespace: "_", Exec: &whisk.Exec{Kind: "sequence", Components: []string{"/_/" + name}}}
	_, _, err = c.Actions.Insert(seq, false)
	require.NoError(t, err)
	_, _, err = c.Triggers.Insert(&whisk.Trigger{Name: name + "-trigger", Namespace: "_"}, false)
	require.NoError(t, err)
	_, _, err = c.Rules.Insert(&whisk.Rule{Name: name + "-rule", Trigger: "/_/" + name + "-trigger", Action: "/_/" + name}, false)
	require.NoError(t, err)

	before, _, err := c.Actions.Get(name, true)
	require.NoError(t, err)
	for path, e := range paths(t, c, name) {
		require.Empty(t, e, "path %s fails before any block", path)
	}
	ran := runs(t, marker)
	require.Equal(t, 6, ran, "each of the six paths ran the code once")

	require.Equal(t, 200, admin(t, "POST", fnPath(name)+"/block", map[string]any{"reason": "security review"}, nil))
	// Effective once the controller got fnmgr's cache invalidation
	// (milliseconds, over Kafka; docs/benchmarks.md measures it).
	require.Eventually(t, func() bool {
		_, err := invokeResult(c, name, nil)
		return err != nil && strings.Contains(err.Error(), "BLOCKED")
	}, 2*time.Second, 20*time.Millisecond)
	ran = runs(t, marker)
	for path, e := range paths(t, c, name) {
		require.Contains(t, e, "BLOCKED", "path %s while blocked", path)
		require.Contains(t, e, "guest/"+name, "path %s names the function", path)
	}
	require.Equal(t, ran, runs(t, marker), "no user code ran while blocked")

	require.Equal(t, 200, admin(t, "POST", fnPath(name)+"/unblock", nil, nil))
	require.Eventually(t, func() bool {
		_, err := invokeResult(c, name, nil)
		return err == nil
	}, 2*time.Second, 20*time.Millisecond)
	ran = runs(t, marker)
	for path, e := range paths(t, c, name) {
		require.Empty(t, e, "path %s after unblock", path)
	}
	require.Equal(t, ran+6, runs(t, marker))
	after, _, err := c.Actions.Get(name, true)
	require.NoError(t, err)
	require.Equal(t, *before.Exec.Code, *after.Exec.Code, "code restored byte for byte")
	require.Equal(t, before.Exec.Kind, after.Exec.Kind)
	require.Equal(t, *before.Limits, *after.Limits, "limits restored")
	require.Equal(t, userKV(before.Parameters), userKV(after.Parameters))
	require.Equal(t, userKV(before.Annotations), userKV(after.Annotations))

	var hist []map[string]any
	require.Equal(t, 200, admin(t, "GET", fnPath(name)+"/history", nil, &hist))
	require.GreaterOrEqual(t, len(hist), 2)
	require.Equal(t, "BLOCKED", hist[len(hist)-2]["to"])
	require.Equal(t, "security review", hist[len(hist)-2]["reason"])
}

// userKV drops fnmgr's own annotations.
func userKV(kv whisk.KeyValueArr) string {
	var b strings.Builder
	for _, p := range kv {
		if !strings.HasPrefix(p.Key, "fnmgr-") {
			fmt.Fprintf(&b, "%s=%v;", p.Key, p.Value)
		}
	}
	return b.String()
}

func ptr[T any](v T) *T { return &v }

// TestUpdateWhileBlocked: wsk action update on a blocked action keeps it
// blocked, records the new code as a revision, and after unblock the new
// code runs.
func TestUpdateWhileBlocked(t *testing.T) {
	need(t)
	c := wsk(t, env.EP.APIHost)
	name := "blocked-update"
	create(t, c, name, "nodejs:default", "function main(){ return {v: 'old'} }", 0, false)
	waitFn(t, name, 5*time.Second, func(f fnView) bool { return f.Head.Revision == 1 })
	require.Equal(t, 200, admin(t, "POST", fnPath(name)+"/block", nil, nil))

	create(t, c, name, "nodejs:default", "function main(){ return {v: 'new'} }", 0, true)
	// The promise (docs/user-guide.md): within about a second of the
	// update, the stub is back. Counted from the update's answer, it means
	// that every invocation sent a second later is refused; one sent
	// earlier may run the new code, however long it takes to answer.
	updated := time.Now()
	for {
		sent := time.Now()
		_, err := invokeResult(c, name, nil)
		if err != nil && strings.Contains(err.Error(), "BLOCKED") {
			t.Logf("refused an invocation sent %s after the update", sent.Sub(updated).Round(time.Millisecond))
			break
		}
		require.Less(t, sent.Sub(updated), time.Second,
			"enforcement is back within a second: an invocation sent %s after the update was not refused (%v)", sent.Sub(updated), err)
	}
	f := waitFn(t, name, 5*time.Second, func(f fnView) bool { return f.Head.Revision == 2 })
	require.Equal(t, "BLOCKED", f.State)

	require.Equal(t, 200, admin(t, "POST", fnPath(name)+"/unblock", nil, nil))
	res, err := invokeResult(c, name, nil)
	require.NoError(t, err)
	require.Equal(t, "new", res["v"])
}

// TestRetireThroughGateway: a retired function answers 410 through the
// gateway, is gone from OpenWhisk after its grace period, and its history
// remains.
func TestRetireThroughGateway(t *testing.T) {
	need(t)
	c := wsk(t, env.EP.APIHost)
	name := "to-retire"
	create(t, c, name, "python:default", "def main(args):\n    return {'ok': True}\n", 0, false)
	waitFn(t, name, 5*time.Second, func(f fnView) bool { return f.Head.Revision == 1 })
	require.Equal(t, 201, admin(t, "POST", fnPath(name)+"/versions", nil, nil))
	require.Equal(t, 200, admin(t, "POST", fnPath(name)+"/retire", map[string]any{"reason": "replaced", "graceSeconds": 2}, nil))

	gw := wsk(t, env.EP.Gateway)
	require.Eventually(t, func() bool {
		_, resp, err := gw.Actions.Invoke(name, nil, true, true)
		return err != nil && resp != nil && resp.StatusCode == http.StatusGone
	}, 5*time.Second, 20*time.Millisecond)
	_, err := invokeResult(c, name, nil)
	require.ErrorContains(t, err, "RETIRED", "the controller path refuses too")

	require.Eventually(t, func() bool {
		_, resp, err := c.Actions.Get(name, false)
		_, resp1, err1 := c.Actions.Get(name+"@1", false)
		return err != nil && resp != nil && resp.StatusCode == 404 && err1 != nil && resp1 != nil && resp1.StatusCode == 404
	}, 15*time.Second, 100*time.Millisecond, "purged after the grace period")
	require.Eventually(t, func() bool {
		// The publish and the retire are entries too: wait for the purge's.
		var hist []map[string]any
		if admin(t, "GET", fnPath(name)+"/history", nil, &hist) != 200 {
			return false
		}
		return slices.ContainsFunc(hist, func(h map[string]any) bool { return h["op"] == "purge" })
	}, 5*time.Second, 20*time.Millisecond, "the history remains, the purge recorded in it")
	f := waitFn(t, name, time.Second, func(fnView) bool { return true })
	require.Equal(t, "RETIRED", f.State)
	require.True(t, f.Purged)
}

// TestUpdateWithTestInvocation: POST …/update applies an update under
// UPDATING, checks it with a real test invocation through OpenWhisk's API,
// and returns the function to LATEST; a failing test puts back what was
// there, with the failure in the history.
func TestUpdateWithTestInvocation(t *testing.T) {
	need(t)
	c := wsk(t, env.EP.APIHost)
	name := "updatable"
	create(t, c, name, "nodejs:default", "function main(){ return {v: 'one'} }", 0, false)
	waitFn(t, name, 5*time.Second, func(f fnView) bool { return f.Head.Revision == 1 })

	var f fnView
	require.Equal(t, 200, admin(t, "POST", fnPath(name)+"/update", map[string]any{
		"exec":   map[string]any{"kind": "nodejs:20", "code": "function main(p){ return {v: 'two', echo: p.x} }"},
		"limits": map[string]any{"memory": 512},
		"test":   map[string]any{"x": 1},
	}, &f))
	require.Equal(t, "LATEST", f.State)
	res, err := invokeResult(c, name, nil)
	require.NoError(t, err)
	require.Equal(t, "two", res["v"])
	a, _, err := c.Actions.Get(name, false)
	require.NoError(t, err)
	var revs []map[string]any
	admin(t, "GET", fnPath(name)+"/revisions", nil, &revs)
	require.Equal(t, 512, *a.Limits.Memory, "%+v", revs)

	var e struct {
		Error string `json:"error"`
	}
	require.Equal(t, 409, admin(t, "POST", fnPath(name)+"/update", map[string]any{
		"exec": map[string]any{"kind": "nodejs:20", "code": "function main(){ throw new Error('broken') }"},
		"test": map[string]any{},
	}, &e))
	require.Contains(t, e.Error, "test invocation failed")
	res, err = invokeResult(c, name, nil)
	require.NoError(t, err)
	require.Equal(t, "two", res["v"], "a failed update leaves the function as it was")
	var hist []map[string]any
	require.Equal(t, 200, admin(t, "GET", fnPath(name)+"/history", nil, &hist))
	require.Contains(t, hist[len(hist)-1]["reason"], "update failed")
	// Each update is one entry: op, the states it passed (UPDATING with
	// how long it lasted), its duration and outcome (issue 16 item 6).
	for i, outcome := range map[int]string{len(hist) - 2: "ok", len(hist) - 1: "failed"} {
		h := hist[i]
		require.Equal(t, "update", h["op"], "%v", h)
		require.Equal(t, outcome, h["outcome"], "%v", h)
		states, _ := h["states"].([]any)
		require.Len(t, states, 3, "%v", h)
		updating, _ := states[1].(map[string]any)
		require.Equal(t, "UPDATING", updating["state"], "%v", h)
		require.Contains(t, updating, "durationMs", "%v", h)
		require.Contains(t, h, "durationMs")
	}
	require.Contains(t, hist[len(hist)-1]["error"], "test invocation failed")
	_, _, err = c.Actions.Get(name+"@fnmgr-update", false)
	require.Error(t, err, "no probe copy is left")
}
