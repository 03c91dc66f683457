package e2e

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRevisionsAndPublish is issue 3's first acceptance item, as wsk does
// it: create, two updates → three revisions, each within a second; publish
// → version 1, and hello@1 keeps running the published code after hello
// changes again.
func TestRevisionsAndPublish(t *testing.T) {
	need(t)
	c := wsk(t, env.EP.APIHost)
	for i, code := range []string{
		"function main(p){ return {v: 1} }",
		"function main(p){ return {v: 2} }",
		"function main(p){ return {v: 3} }",
	} {
		create(t, c, "rev-hello", "nodejs:default", code, 0, i > 0)
		waitFn(t, "rev-hello", time.Second, func(f fnView) bool { return f.Head.Revision == i+1 })
	}
	var revs []map[string]any
	require.Equal(t, 200, admin(t, "GET", fnPath("rev-hello")+"/revisions", nil, &revs))
	require.Len(t, revs, 3)
	require.EqualValues(t, 3, revs[0]["revision"], "newest first")

	var pub struct {
		Version int    `json:"version"`
		Digest  string `json:"digest"`
	}
	require.Equal(t, 201, admin(t, "POST", fnPath("rev-hello")+"/versions", map[string]any{"description": "first"}, &pub))
	require.Equal(t, 1, pub.Version)
	require.Equal(t, 200, admin(t, "POST", fnPath("rev-hello")+"/versions", nil, &pub), "an unchanged head is not published twice")
	require.Equal(t, 1, pub.Version)

	res, err := invokeResult(c, "rev-hello@1", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, "3", fmt.Sprint(res["v"]))
	create(t, c, "rev-hello", "nodejs:default", "function main(p){ return {v: 4} }", 0, true)
	waitFn(t, "rev-hello", time.Second, func(f fnView) bool { return f.Head.Revision == 4 })
	res, err = invokeResult(c, "rev-hello", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, "4", fmt.Sprint(res["v"]))
	res, err = invokeResult(c, "rev-hello@1", map[string]any{})
	require.NoError(t, err)
	require.Equal(t, "3", fmt.Sprint(res["v"]), "hello@1 runs the published code")

	// wsk action get shows the state (written once updates pause).
	require.Eventually(t, func() bool {
		a, _, err := c.Actions.Get("rev-hello", false)
		return err == nil && a.Annotations.GetValue("fnmgr-state") == "LATEST"
	}, 10*time.Second, 50*time.Millisecond)
}

// TestAliasesAndWeightedRouting: moving an alias changes what name@alias
// runs; a 90/10 routing through the gateway splits 1,000 calls within ±5
// points.
func TestAliasesAndWeightedRouting(t *testing.T) {
	need(t)
	c := wsk(t, env.EP.APIHost)
	create(t, c, "ab", "nodejs:default", "function main(){ return {v: 'one'} }", 0, false)
	waitFn(t, "ab", 2*time.Second, func(f fnView) bool { return f.Head.Revision == 1 })
	require.Equal(t, 201, admin(t, "POST", fnPath("ab")+"/versions", nil, nil))
	create(t, c, "ab", "nodejs:default", "function main(){ return {v: 'two'} }", 0, true)
	waitFn(t, "ab", 2*time.Second, func(f fnView) bool { return f.Head.Revision == 2 })
	require.Equal(t, 201, admin(t, "POST", fnPath("ab")+"/versions", nil, nil))

	require.Equal(t, 200, admin(t, "PUT", fnPath("ab")+"/aliases/prod", map[string]any{"version": 1}, nil))
	res, err := invokeResult(c, "ab@prod", nil)
	require.NoError(t, err)
	require.Equal(t, "one", res["v"])
	require.Equal(t, 200, admin(t, "PUT", fnPath("ab")+"/aliases/prod", map[string]any{"version": 2}, nil))
	// The controller drops its cached ab@prod when the cache invalidation
	// fnmgr publishes reaches it (milliseconds, over Kafka).
	require.Eventually(t, func() bool {
		res, err := invokeResult(c, "ab@prod", nil)
		return err == nil && res["v"] == "two"
	}, 5*time.Second, 20*time.Millisecond, "moving the alias changes what ab@prod runs")

	require.Equal(t, 200, admin(t, "PUT", fnPath("ab")+"/aliases/canary",
		map[string]any{"routing": []map[string]int{{"version": 1, "weight": 90}, {"version": 2, "weight": 10}}}, nil))
	gw := wsk(t, env.EP.Gateway)
	require.Eventually(t, func() bool { _, err := invokeResult(gw, "ab@canary", nil); return err == nil }, 5*time.Second, 20*time.Millisecond)
	const calls = 1000
	var one, two, failed atomic.Int64
	var wg sync.WaitGroup
	next := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := wsk(t, env.EP.Gateway)
			for range next {
				res, err := invokeResult(c, "ab@canary", nil)
				switch {
				case err != nil:
					failed.Add(1)
				case res["v"] == "one":
					one.Add(1)
				default:
					two.Add(1)
				}
			}
		}()
	}
	for range calls {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	require.Zero(t, failed.Load())
	share := float64(one.Load()) / calls * 100
	require.LessOrEqual(t, math.Abs(share-90), 5.0, "version 1 got %.1f%% of %d calls", share, calls)
}

// TestAdminAuthAndValidation: another namespace's key gets 403, no
// credentials 401, bad names and settings 400 naming the rule, and none of
// them changes anything.
func TestAdminAuthAndValidation(t *testing.T) {
	need(t)
	c := wsk(t, env.EP.APIHost)
	create(t, c, "guarded", "nodejs:default", "function main(){ return {} }", 0, false)
	before := waitFn(t, "guarded", 2*time.Second, func(f fnView) bool { return f.Head.Revision == 1 })
	other := env.NewSubject(t, "other-ns")

	cases := []struct {
		name   string
		cred   string
		method string
		path   string
		body   any
		want   int
	}{
		{"another namespace's key", other, "GET", fnPath("guarded"), nil, 403},
		{"another namespace's key cannot block", other, "POST", "/v1/namespaces/guest/functions/guarded/block", map[string]any{}, 403},
		{"no credentials", "none", "POST", fnPath("guarded") + "/versions", nil, 401},
		{"wrong key", "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:nope", "GET", fnPath("guarded"), nil, 401},
		{"bad function name", "basic", "GET", "/v1/namespaces/guest/functions/%20bad", nil, 400},
		{"memory off its 64 MB step", "basic", "PUT", fnPath("guarded") + "/config", map[string]any{"memorySize": 100}, 400},
		{"gpuPercentage out of range", "basic", "PUT", fnPath("guarded") + "/config", map[string]any{"gpuPercentage": 101}, 400},
		{"unknown base image", "basic", "PUT", fnPath("guarded") + "/config", map[string]any{"baseImage": "cobol:85"}, 400},
		{"unknown field", "basic", "PUT", fnPath("guarded") + "/config", map[string]any{"memory": 256}, 400},
		{"alias that is a number", "basic", "PUT", fnPath("guarded") + "/aliases/12", map[string]any{"version": 1}, 400},
		{"routing of unknown versions", "basic", "PUT", fnPath("guarded") + "/aliases/x", map[string]any{"version": 7}, 400},
		{"unknown function", "basic", "POST", fnPath("nope") + "/versions", nil, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var e struct {
				Error string `json:"error"`
				Code  string `json:"code"`
			}
			require.Equal(t, tc.want, adminAs(t, tc.cred, tc.method, tc.path, tc.body, &e))
			require.NotEmpty(t, e.Error, "errors say what is wrong")
			require.NotEmpty(t, e.Code, "errors carry the request id")
		})
	}
	var after fnView
	require.Equal(t, 200, admin(t, "GET", fnPath("guarded"), nil, &after))
	require.Equal(t, before, after, "refused requests change nothing")
	a, _, err := c.Actions.Get("guarded", false)
	require.NoError(t, err)
	require.Equal(t, 256, *a.Limits.Memory)
}
