package e2e

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/tests/optkill"
)

// TestOptimizeThroughAdminAPI starts the pre-optimizer through the admin
// API on a nodejs action that sleeps 200 ms registered at 512 MB: the run
// reports progress, ends with the deployment's minimum memory, applies
// it, draws its chart, and leaves no probe copy behind.
func TestOptimizeThroughAdminAPI(t *testing.T) {
	need(t)
	c := wsk(t, env.EP.APIHost)
	name := "sleeper"
	started := struct{ ID string }{startSleeperOptimization(t, c, name)}

	type run struct {
		Status   string `json:"status"`
		Progress struct {
			Done  int `json:"done"`
			Total int `json:"total"`
		} `json:"progress"`
		Report map[string]any `json:"report"`
		Error  string         `json:"error"`
	}
	var r run
	require.Eventually(t, func() bool {
		r = run{}
		admin(t, "GET", fnPath(name)+"/optimizations/"+started.ID, nil, &r)
		return r.Status != "running" && r.Status != "queued" && r.Status != ""
	}, 3*time.Minute, 250*time.Millisecond, "the run ends")
	require.Equal(t, "succeeded", r.Status, "run: %+v", r)
	require.Greater(t, r.Progress.Done, 0)
	require.LessOrEqual(t, r.Progress.Done, 15, "the invocation budget holds")

	a, _, err := c.Actions.Get(name, false)
	require.NoError(t, err)
	require.Equal(t, 128, *a.Limits.Memory, "a sleeping action is right-sized to the deployment's minimum")

	resp, err := env.HTTP.Get(env.EP.Admin + fnPath(name) + "/optimizations/" + started.ID + "/chart.svg")
	require.NoError(t, err)
	svg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 401, resp.StatusCode, "the chart needs credentials like the rest of the API")
	req := authed(t, "GET", fnPath(name)+"/optimizations/"+started.ID+"/chart.svg")
	resp, err = env.HTTP.Do(req)
	require.NoError(t, err)
	svg, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.True(t, strings.HasPrefix(strings.TrimSpace(string(svg)), "<svg") || strings.Contains(string(svg), "<svg"), "an SVG")

	list, _, err := c.Actions.List("", &whisk.ActionListOptions{Limit: 200})
	require.NoError(t, err)
	for _, x := range list {
		require.NotContains(t, x.Name, "@fnmgr-probe-", "no probe copy is left")
	}
	var f fnView
	require.Equal(t, 404, admin(t, "GET", fnPath(name+"@fnmgr-probe-"+started.ID+"-128"), nil, &f), "probe copies are not functions")
}

// startSleeperOptimization creates name, a nodejs action that sleeps
// 200 ms at 512 MB, and starts an optimization of it (min-resources, 15
// invocations, applied); it returns the run's id.
func startSleeperOptimization(t *testing.T, c *whisk.Client, name string) string {
	t.Helper()
	create(t, c, name, "nodejs:default", optkill.Sleeper, optkill.MemoryMB, false)
	waitFn(t, name, 5*time.Second, func(f fnView) bool { return f.Head.Revision == 1 })
	var started struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}
	require.Eventually(t, func() bool {
		return admin(t, "POST", fnPath(name)+"/optimizations", optkill.Request(), &started) == 202
	}, 10*time.Second, 200*time.Millisecond, "start: %s", &started.Error)
	require.NotEmpty(t, started.ID)
	return started.ID
}
