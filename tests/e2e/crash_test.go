package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

// restart kills fnmgr with SIGKILL, starts it again and waits until it is
// ready (caught up, transitions recovered).
func restart(t *testing.T) {
	t.Helper()
	env.RestartFnmgr(t)
}

// TestRestartDuringBurstKeepsEveryRevision: fnmgr is killed (SIGKILL)
// twice while an action is updated 40 times; every update is a revision,
// exactly once.
func TestRestartDuringBurstKeepsEveryRevision(t *testing.T) {
	need(t)
	c := wsk(t, env.EP.APIHost)
	name := "burst"
	create(t, c, name, "nodejs:default", "function main(){ return {i: 0} }", 0, false)
	waitFn(t, name, 5*time.Second, func(f fnView) bool { return f.Head.Revision == 1 })
	const updates = 40
	done := make(chan struct{})
	var updated atomic.Int32
	go func() {
		defer close(done)
		for i := 1; i <= updates; i++ {
			code := fmt.Sprintf("function main(){ return {i: %d} }", i)
			for {
				if _, _, err := c.Actions.Insert(actionOf(name, code), true); err == nil {
					break
				}
				testkit.Pause(t.Context(), 20*time.Millisecond) // 409 from a stale cache: retry as a user would
			}
			updated.Add(1)
			testkit.Pause(t.Context(), time.Duration(rand.IntN(40))*time.Millisecond) // the user's pace, drawn
		}
	}()
	// Kill fnmgr twice in the middle of the burst: once a few updates are
	// in, and again further on (or once the burst is over, on a slow host).
	for _, at := range []int32{8, 24} {
		require.Eventually(t, func() bool {
			select {
			case <-done:
				return true
			default:
				return updated.Load() >= at
			}
		}, time.Minute, 5*time.Millisecond, "%d updates in", at)
		t.Logf("killing fnmgr with %d of %d updates in", updated.Load(), updates)
		restart(t)
	}
	<-done
	f := waitFn(t, name, 20*time.Second, func(f fnView) bool { return f.Head.Revision >= updates+1 })
	require.Equal(t, updates+1, f.Head.Revision, "no revision lost, none duplicated")
	var revs []struct {
		Revision int    `json:"revision"`
		Digest   string `json:"digest"`
	}
	require.Equal(t, 200, admin(t, "GET", fnPath(name)+"/revisions", nil, &revs))
	require.Len(t, revs, updates+1)
	seen := map[string]bool{}
	for _, r := range revs {
		require.False(t, seen[r.Digest], "revision %d duplicates an earlier one", r.Revision)
		seen[r.Digest] = true
	}
}

func actionOf(name, code string) *whisk.Action {
	return &whisk.Action{Name: name, Namespace: "_", Exec: &whisk.Exec{Kind: "nodejs:default", Code: &code}}
}

// TestAdoptsExistingActions: 1,000 actions written while fnmgr is down are
// all adopted when it starts.
func TestAdoptsExistingActions(t *testing.T) {
	need(t)
	const n = 1000
	require.NoError(t, env.Stack.KillFnmgr())
	ctx := context.Background()
	whisks := whiskdb.New(couchClient(t).DB("whisk_local_whisks"))
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				a := entity.Action{Namespace: "adopt", Name: fmt.Sprintf("a%04d", i), Version: "0.0.1",
					Exec: entity.Exec{Kind: "nodejs:20"}, Limits: entity.DefaultLimits(),
					Annotations: entity.KeyValues{}.With("exec", "nodejs:20"), Updated: time.Now().UnixMilli()}
				_, err := whisks.PutAction(ctx, a, []byte(fmt.Sprintf("function main(){return {i:%d}}", i)), entity.TextContentType)
				errs <- err
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, env.Stack.StartFnmgr(sctx))
	env.WaitReady(t, time.Minute)
	var list []map[string]any
	adopted := 0
	for skip := 0; ; skip += 200 {
		list = nil
		require.Equal(t, 200, adminAs(t, "admin", "GET", fmt.Sprintf("/v1/namespaces/adopt/functions?limit=200&skip=%d", skip), nil, &list))
		adopted += len(list)
		if len(list) < 200 {
			break
		}
	}
	require.Equal(t, n, adopted, "every existing action is adopted")
	t.Logf("adopted %d actions in %s", n, time.Since(start).Round(time.Millisecond))
}

// TestKillDuringTransitions kills fnmgr (SIGKILL) at random points of
// block, unblock, update and retire, 52 times; after each restart the
// function is in a state of the lifecycle table, no transition is left
// half done, and its code is intact (what runs, once it may run, is the
// code from before or after the operation, never lost).
func TestKillDuringTransitions(t *testing.T) {
	need(t)
	runsN := 52
	if testing.Short() {
		runsN = 8
	}
	c := wsk(t, env.EP.APIHost)
	ops := []string{"block", "unblock", "update", "retire"}
	for i := range runsN {
		op := ops[i%len(ops)]
		name := fmt.Sprintf("crash-%02d", i)
		create(t, c, name, "nodejs:default", "function main(){ return {v: 'before'} }", 0, false)
		waitFn(t, name, 5*time.Second, func(f fnView) bool { return f.Head.Revision == 1 })
		if op == "unblock" {
			require.Equal(t, 200, admin(t, "POST", fnPath(name)+"/block", nil, nil))
		}
		var body any
		switch op {
		case "update":
			body = map[string]any{"exec": map[string]any{"kind": "nodejs:20", "code": "function main(){ return {v: 'after'} }"}}
		case "retire":
			body = map[string]any{"graceSeconds": 3600}
		}
		go fire("POST", fnPath(name)+"/"+op, body) // the request may die with fnmgr
		// A random point of the transition, drawn.
		testkit.Pause(t.Context(), time.Duration(rand.IntN(120))*time.Millisecond)
		restart(t)

		var f struct {
			fnView
			Transition *struct{ Op string } `json:"transition"`
		}
		require.Equal(t, 200, admin(t, "GET", fnPath(name), nil, &f), "run %d (%s)", i, op)
		require.Nil(t, f.Transition, "run %d (%s): a transition was left half done", i, op)
		require.Contains(t, []string{"LATEST", "PUBLISHED", "BLOCKED", "RETIRED"}, f.State, "run %d (%s)", i, op)
		if f.State == "RETIRED" {
			res, err := invokeResult(c, name, nil)
			require.Error(t, err, "run %d: a retired function must not run (got %v)", i, res)
			continue
		}
		if f.State == "BLOCKED" {
			_, err := invokeResult(c, name, nil)
			require.ErrorContains(t, err, "BLOCKED", "run %d", i)
			require.Equal(t, 200, admin(t, "POST", fnPath(name)+"/unblock", nil, nil), "run %d", i)
		}
		res, err := invokeResult(c, name, nil)
		require.NoError(t, err, "run %d (%s): the code must be intact", i, op)
		require.Contains(t, []string{"before", "after"}, res["v"], "run %d (%s)", i, op)
		if op != "update" {
			require.Equal(t, "before", res["v"], "run %d (%s)", i, op)
		}
	}
}

// fire calls the admin API as the guest without waiting for, or checking,
// the answer.
func fire(method, path string, body any) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, env.EP.Admin+path, bytes.NewReader(b))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	u, k, _ := strings.Cut(env.EP.Auth, ":")
	req.SetBasicAuth(u, k)
	if resp, err := env.HTTP.Do(req); err == nil {
		resp.Body.Close()
	}
}
