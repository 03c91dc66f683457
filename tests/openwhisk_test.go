package tests

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/tests/stackenv"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

func str(s string) *string { return &s }

// field reads key of an activation result.
func field(r whisk.Result, key string) any {
	m, _ := r.(map[string]any)
	return m[key]
}

// write makes one write of the scenario's. Straight at the controller it
// may meet fnmgr's own state annotation write (about 2 s after each
// change) and get OpenWhisk's 409 "Concurrent modification to resource
// detected." (ApiUtils.scala putEntity/deleteEntity), which changed
// nothing: a user tries again, and so does this scenario. Through the
// gateway the gateway sends it again itself: the scenario must not see a
// 409 there.
func write(t *testing.T, viaGateway bool, what string, fn func() (*http.Response, error)) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := fn()
		if err == nil || viaGateway || resp == nil || resp.StatusCode != http.StatusConflict || time.Now().After(deadline) {
			require.NoError(t, err, what)
			return
		}
		t.Logf("%s: 409 from the controller (%v); trying again", what, err)
		testkit.Pause(t.Context(), 100*time.Millisecond) // a user's pause before trying again
	}
}

// TestOpenWhiskScenario is the foundation's user scenario, run with
// openwhisk-client-go against the controller and, unchanged, through
// fnmgr's gateway: create, update, get, list, invoke (blocking and not) and
// delete a nodejs and a python action, fire a trigger whose rule invokes an
// action, run a sequence, read activations and logs.
func TestOpenWhiskScenario(t *testing.T) {
	env := stackenv.Need(t, shared)
	for _, target := range []struct{ name, host string }{{"controller", env.EP.APIHost}, {"gateway", env.EP.Gateway}} {
		t.Run(target.name, func(t *testing.T) {
			c := env.Wsk(t, target.host, env.EP.Auth) // what the wsk CLI is built on
			p := target.name + "-"
			actions := []struct {
				name, kind, code, code2 string
			}{
				{p + "js", "nodejs:default", "function main(p) { console.log('hello from js'); return {greeting: 'Hello, ' + (p.name || 'World')} }",
					"function main(p) { return {greeting: 'Hi, ' + (p.name || 'World')} }"},
				{p + "py", "python:default", "def main(args):\n    print('hello from python')\n    return {'greeting': 'Hello, ' + args.get('name', 'World')}\n",
					"def main(args):\n    return {'greeting': 'Hi, ' + args.get('name', 'World')}\n"},
			}
			for _, a := range actions {
				_, _, err := c.Actions.Insert(&whisk.Action{Name: a.name, Namespace: "_", Exec: &whisk.Exec{Kind: a.kind, Code: str(a.code)}}, false)
				require.NoError(t, err, "create %s", a.name)
				got, _, err := c.Actions.Get(a.name, true)
				require.NoError(t, err)
				require.Equal(t, a.code, *got.Exec.Code)
				require.Equal(t, 256, *got.Limits.Memory, "OpenWhisk's default memory")

				res, _, err := c.Actions.Invoke(a.name, map[string]any{"name": "fnmgr"}, true, true)
				require.NoError(t, err)
				require.Equal(t, "Hello, fnmgr", res.(map[string]any)["greeting"])

				write(t, target.name == "gateway", "update "+a.name, func() (*http.Response, error) {
					_, resp, err := c.Actions.Insert(&whisk.Action{Name: a.name, Namespace: "_", Exec: &whisk.Exec{Kind: a.kind, Code: str(a.code2)}}, true)
					return resp, err
				})
				got, _, err = c.Actions.Get(a.name, false)
				require.NoError(t, err)
				require.Equal(t, "0.0.2", got.Version, "an update bumps the patch version")

				// Non-blocking: an activation id, then the activation.
				out, _, err := c.Actions.Invoke(a.name, map[string]any{}, false, false)
				require.NoError(t, err)
				id := out.(map[string]any)["activationId"].(string)
				var act *whisk.Activation
				require.Eventually(t, func() bool {
					act, _, err = c.Activations.Get(id)
					c.Namespace = "_"
					return err == nil
				}, 30*time.Second, 50*time.Millisecond)
				require.Equal(t, "Hi, World", field(act.Response.Result, "greeting"))
				require.True(t, act.Response.Success)
			}

			list, _, err := c.Actions.List("", &whisk.ActionListOptions{Limit: 200})
			require.NoError(t, err)
			names := map[string]bool{}
			for _, a := range list {
				names[a.Name] = true
			}
			require.True(t, names[p+"js"] && names[p+"py"], "both actions are listed")

			// Logs of a blocking activation.
			logged, _, err := c.Actions.Invoke(p+"py", map[string]any{}, true, false)
			require.NoError(t, err)
			_ = logged
			_, _, err = c.Actions.Insert(&whisk.Action{Name: p + "logs", Namespace: "_", Exec: &whisk.Exec{Kind: "nodejs:default",
				Code: str("function main() { console.log('line one'); console.error('line two'); return {} }")}}, false)
			require.NoError(t, err)
			full, _, err := c.Actions.Invoke(p+"logs", map[string]any{}, true, false)
			require.NoError(t, err)
			id := full.(map[string]any)["activationId"].(string)
			// Each stream's lines keep their order; across stdout and
			// stderr none is promised (OpenWhisk reads them from docker's
			// log driver, which timestamps each stream as it reads it, and
			// the local invoker reads the two pipes apart too): a busy host
			// may put line two first.
			var seen []string
			require.Eventually(t, func() bool {
				logs, _, err := c.Activations.Logs(id)
				c.Namespace = "_"
				if err != nil || logs == nil {
					return false
				}
				seen = logs.Logs
				return len(seen) == 2 &&
					slices.ContainsFunc(seen, func(l string) bool { return strings.Contains(l, "stdout: line one") }) &&
					slices.ContainsFunc(seen, func(l string) bool { return strings.Contains(l, "stderr: line two") })
			}, 30*time.Second, 50*time.Millisecond, "activation logs: %q", seen)

			// A sequence: js's greeting goes through a python step.
			_, _, err = c.Actions.Insert(&whisk.Action{Name: p + "shout", Namespace: "_", Exec: &whisk.Exec{Kind: "python:default",
				Code: str("def main(args):\n    return {'greeting': args['greeting'].upper()}\n")}}, false)
			require.NoError(t, err)
			_, _, err = c.Actions.Insert(&whisk.Action{Name: p + "seq", Namespace: "_", Exec: &whisk.Exec{Kind: "sequence",
				Components: []string{"/_/" + p + "js", "/_/" + p + "shout"}}}, false)
			require.NoError(t, err)
			res, _, err := c.Actions.Invoke(p+"seq", map[string]any{"name": "seq"}, true, true)
			require.NoError(t, err)
			require.Equal(t, "HI, SEQ", res.(map[string]any)["greeting"])

			// A trigger whose rule invokes an action.
			_, _, err = c.Triggers.Insert(&whisk.Trigger{Name: p + "trig", Namespace: "_"}, false)
			require.NoError(t, err)
			_, _, err = c.Rules.Insert(&whisk.Rule{Name: p + "rule", Trigger: "/_/" + p + "trig", Action: "/_/" + p + "js"}, false)
			require.NoError(t, err)
			since := time.Now().UnixMilli()
			_, _, err = c.Triggers.Fire(p+"trig", map[string]any{"name": "rule"})
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				acts, _, err := c.Activations.List(&whisk.ActivationListOptions{Name: p + "js", Since: since, Docs: true, Limit: 5})
				c.Namespace = "_"
				for _, a := range acts {
					if field(a.Response.Result, "greeting") == "Hi, rule" {
						return err == nil
					}
				}
				return false
			}, 30*time.Second, 100*time.Millisecond, "the rule ran the action with the trigger's payload")

			for _, name := range []string{p + "seq", p + "shout", p + "logs", p + "js", p + "py"} {
				write(t, target.name == "gateway", "delete "+name, func() (*http.Response, error) { return c.Actions.Delete(name) })
			}
			_, resp, err := c.Actions.Get(p+"js", false)
			require.Error(t, err)
			require.Equal(t, http.StatusNotFound, resp.StatusCode)
		})
	}
}

// TestMemoryAndTimeLimits: a nodejs action allocating 300 MB fails with
// OpenWhisk's memory-exceeded outcome at 256 MB and succeeds at 512 MB; a
// CPU-bound action runs measurably faster at a larger memory size; a run
// past its timeout is reported as OpenWhisk reports it.
func TestMemoryAndTimeLimits(t *testing.T) {
	env := stackenv.Need(t, shared)
	c := env.Wsk(t, env.EP.APIHost, env.EP.Auth)
	hog := "function main() { const b = Buffer.alloc(300 * 1024 * 1024, 1); return { bytes: b.length } }"
	for _, tc := range []struct {
		memory int
		ok     bool
	}{{256, false}, {512, true}} {
		name := fmt.Sprintf("hog-%d", tc.memory)
		mem := tc.memory
		_, _, err := c.Actions.Insert(&whisk.Action{Name: name, Namespace: "_", Exec: &whisk.Exec{Kind: "nodejs:default", Code: str(hog)},
			Limits: &whisk.Limits{Memory: &mem}}, false)
		require.NoError(t, err)
		res, resp, err := c.Actions.Invoke(name, map[string]any{}, true, false)
		if tc.ok {
			require.NoError(t, err, "300 MB fits in 512 MB")
			continue
		}
		require.Error(t, err)
		require.Equal(t, http.StatusBadGateway, resp.StatusCode)
		_ = res
		require.Contains(t, err.Error(), "The action exhausted its memory and was aborted.")
	}

	spin := "function main() { const t = Date.now(); let x = 0; for (let i = 0; i < 3e8; i++) { x += i % 7 } return { ms: Date.now() - t, x } }"
	took := map[int]float64{}
	for _, mem := range []int{128, 512} {
		name := fmt.Sprintf("spin-%d", mem)
		m := mem
		_, _, err := c.Actions.Insert(&whisk.Action{Name: name, Namespace: "_", Exec: &whisk.Exec{Kind: "nodejs:default", Code: str(spin)},
			Limits: &whisk.Limits{Memory: &m}}, false)
		require.NoError(t, err)
		res, _, err := c.Actions.Invoke(name, map[string]any{}, true, true)
		require.NoError(t, err)
		ms, err := strconv.ParseFloat(fmt.Sprint(res.(map[string]any)["ms"]), 64)
		require.NoError(t, err)
		took[mem] = ms
	}
	require.Less(t, took[512]*1.5, took[128], "a CPU-bound action runs faster with more memory (CPU share follows memory): %v", took)

	timeout := 1000
	_, _, err := c.Actions.Insert(&whisk.Action{Name: "sleepy", Namespace: "_", Exec: &whisk.Exec{Kind: "nodejs:default",
		Code: str("function main() { return new Promise(r => setTimeout(() => r({}), 5000)) }")},
		Limits: &whisk.Limits{Timeout: &timeout}}, false)
	require.NoError(t, err)
	_, resp, err := c.Actions.Invoke("sleepy", map[string]any{}, true, false)
	require.Error(t, err)
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	require.Contains(t, err.Error(), "The action exceeded its time limits of 1000 milliseconds.")
}
