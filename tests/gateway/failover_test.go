// Package gateway tests fnmgr's gateway in front of two controllers of the
// local stack, run in this process (deploy/local/stack) so that a
// controller can be stopped and started again under load.
package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/deploy/local/stack"
	"github.com/fnmgr/fnmgr/tests/stackenv"
)

// The load: clients calling at once, for at least loadFor and until
// minOK calls succeeded (a busy CI host is slower: the load lasts longer
// rather than the test failing), at most maxLoad and maxCalls calls in all.
const (
	clients  = 20
	loadFor  = 10 * time.Second
	minOK    = 20 * clients
	maxLoad  = time.Minute
	maxCalls = 20000
)

// counter appends each call's id to a file, so that the test counts how
// often each call ran (the local stack runs actions on this machine).
const counter = `const fs = require('fs');
function main(p) {
  fs.appendFileSync(p.file, p.id + '\n');
  return { id: p.id };
}`

// env is a running stack with two controllers, and the client of the
// load.
type env struct {
	*stackenv.Env
	http *http.Client
}

func startStack(t *testing.T) *env {
	t.Helper()
	e := stackenv.Start(t, stackenv.Options{Modify: func(o *stack.Options) { o.Controllers = 2 }})
	return &env{Env: e, http: &http.Client{
		Timeout:   60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true},
	}}
}

func (e *env) do(method, url, auth, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case strings.HasPrefix(auth, "Bearer "):
		req.Header.Set("Authorization", auth)
	case auth != "":
		u, k, _ := strings.Cut(auth, ":")
		req.SetBasicAuth(u, k)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// controllerView is one entry of GET /v1/controllers.
type controllerView struct {
	URL     string `json:"url"`
	Name    string `json:"name"`
	Healthy bool   `json:"healthy"`
}

func (e *env) controllers(t *testing.T) []controllerView {
	t.Helper()
	code, b, err := e.do("GET", e.EP.Admin+"/v1/controllers", "Bearer "+e.EP.AdminToken, "")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, string(b))
	var out struct {
		Controllers []controllerView `json:"controllers"`
	}
	require.NoError(t, json.Unmarshal(b, &out))
	return out.Controllers
}

// served is how many responses controller name sent the gateway so far.
func (e *env) served(t *testing.T, name string) int {
	t.Helper()
	return int(e.Metric(t, "fnmgr_gateway_upstream_duration_seconds_count", "controller="+name))
}

// TestControllerStopUnderLoad: with two controllers behind the gateway,
// one is stopped during a steady load and started again. Every call the
// client did not see fail ran exactly once, none ran twice, and the
// restarted controller takes calls again within a few seconds.
func TestControllerStopUnderLoad(t *testing.T) {
	e := startStack(t)
	ctrls := e.controllers(t)
	require.Len(t, ctrls, 2)
	require.Equal(t, e.EP.APIHost, ctrls[0].URL, "controller 0 is the apihost")
	second := ctrls[1].Name

	file := filepath.Join(t.TempDir(), "runs.txt")
	action := e.EP.Gateway + "/api/v1/namespaces/_/actions/gw-counter"
	code, b, err := e.do("PUT", action+"?overwrite=true", e.EP.Auth,
		fmt.Sprintf(`{"exec":{"kind":"nodejs:default","code":%q},"parameters":[{"key":"file","value":%q}]}`, counter, file))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, string(b))
	invoke := func(id string) (int, []byte, error) {
		return e.do("POST", action+"?blocking=true&result=true", e.EP.Auth, fmt.Sprintf(`{"id":%q}`, id))
	}
	for i := range 4 { // warm: both controllers, a worker
		code, b, err := invoke("warm-" + strconv.Itoa(i))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code, string(b))
	}

	var (
		next     atomic.Int64
		mu       sync.Mutex
		ok       = map[string]bool{}
		failures []string
		done     = make(chan struct{}) // closed once the controller is back
		wg       sync.WaitGroup
		start    = time.Now()
	)
	// Each client calls until the restarted controller is back in
	// rotation, loadFor has passed and minOK calls succeeded (or maxLoad
	// passed, or maxCalls calls were made).
	over := func() bool {
		select {
		case <-done:
			mu.Lock()
			enough := len(ok) >= minOK
			mu.Unlock()
			return time.Since(start) >= loadFor && enough || time.Since(start) >= maxLoad
		default:
			return false
		}
	}
	for c := range clients {
		wg.Go(func() {
			for !over() {
				n := next.Add(1)
				if n > maxCalls {
					return
				}
				id := fmt.Sprintf("c%d-%d", c, n)
				code, b, err := invoke(id)
				mu.Lock()
				if err == nil && code == http.StatusOK && jsonEq(b, id) {
					ok[id] = true
				} else {
					failures = append(failures, fmt.Sprintf("%s: %d %v %.200s", id, code, err, b))
				}
				mu.Unlock()
			}
		})
	}

	// If a step below fails, the clients still stop after loadFor.
	closeDone := sync.OnceFunc(func() { close(done) })
	defer func() { closeDone(); wg.Wait() }()
	ctx := context.Background()
	first := ctrls[0].Name
	require.Eventually(t, func() bool { return e.served(t, second) > 2*clients }, 20*time.Second, 50*time.Millisecond,
		"controller 1 takes calls before it is stopped")
	require.NoError(t, e.Stack.StopController(ctx, 1))
	stopped := time.Now()
	require.Eventually(t, func() bool { return !e.controllers(t)[1].Healthy }, 5*time.Second, 20*time.Millisecond,
		"the stopped controller is ejected")
	before, alone := e.served(t, second), e.served(t, first)
	require.Eventually(t, func() bool { return e.served(t, first) > alone+5*clients }, 20*time.Second, 50*time.Millisecond,
		"calls go on with one controller")
	require.NoError(t, e.Stack.StartController(ctx, 1))
	restarted := time.Now()
	require.Eventually(t, func() bool { return e.served(t, second) > before }, 5*time.Second, 20*time.Millisecond,
		"the restarted controller takes calls again within a few seconds")
	back := time.Since(restarted)
	closeDone()
	wg.Wait()

	runs := countRuns(t, file)
	total := len(ok) + len(failures)
	t.Logf("%d calls in %s (%d clients): %d ok, %d failed as the client saw; controller 1 stopped %s after the start, back in rotation %s after its restart",
		total, time.Since(start).Round(time.Millisecond), clients, len(ok), len(failures), stopped.Sub(start).Round(time.Millisecond), back.Round(time.Millisecond))
	for _, f := range failures {
		t.Log("failed:", f)
	}
	t.Logf("controller 1: %d calls sent again to controller 0 before they could have started; ejected %d times (connection errors), %d (health checks)",
		int(e.Metric(t, "fnmgr_gateway_retries_total", "controller="+second)),
		int(e.Metric(t, "fnmgr_gateway_ejections_total", "controller="+second, "reason=connection_error")),
		int(e.Metric(t, "fnmgr_gateway_ejections_total", "controller="+second, "reason=health_check")))
	for id := range ok {
		require.Equal(t, 1, runs[id], "call %s succeeded for the client, so it ran exactly once", id)
	}
	for id, n := range runs {
		require.LessOrEqual(t, n, 1, "call %s ran %d times", id, n)
	}
	require.GreaterOrEqual(t, len(ok), minOK, "the load made progress")
	require.Less(t, len(failures), total/20+1, "few calls fail as a controller goes away")
}

func jsonEq(b []byte, id string) bool {
	var v struct {
		ID string `json:"id"`
	}
	return json.Unmarshal(b, &v) == nil && v.ID == id
}

// countRuns reads the counter action's file: runs by call id.
func countRuns(t *testing.T, file string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	runs := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		runs[line]++
	}
	return runs
}
