package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/tests/stackenv"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

// TestConcurrentWritersOnOneFunction has several clients work on one
// function at once, in random order, in each run: wsk action updates
// (new code) at the controller, and admin publishes, alias moves and
// configuration changes at fnmgr. Conflicts (409) are expected and
// retried or accepted; nothing else may fail. Afterwards: every committed
// update is a revision, version numbers are unique and increasing, each
// published version is the OpenWhisk action name@N with its code, the
// alias names a version that exists, the head action runs the head's code,
// and no transition is left half done.
func TestConcurrentWritersOnOneFunction(t *testing.T) {
	e := stackenv.Need(t, env)
	rng := rng(t)
	c := e.Wsk(t, e.EP.APIHost, e.EP.Auth)
	for run := range count(6) {
		name := fmt.Sprintf("contend-%02d", run)
		first := fmt.Sprintf("function main(){ return {run: %d, op: 'create'} }", run)
		stackenv.CreateAction(t, c, name, "nodejs:default", first, false)
		e.WaitFn(t, "guest", name, 10*time.Second, func(f stackenv.Function) bool { return f.Head.Revision == 1 })
		fn := stackenv.FnPath("guest", name)

		var mu sync.Mutex
		codes := []string{entity.Digest([]byte(first))} // committed code digests
		published := map[int]string{}                   // version -> digest, as publish answered
		var wg sync.WaitGroup
		for w := range 6 {
			wr := rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
			wg.Add(1)
			// assert, not require: these run outside the test's goroutine.
			go func() {
				defer wg.Done()
				for op := range 8 {
					switch wr.IntN(4) {
					case 0: // wsk action update
						code := fmt.Sprintf("function main(){ return {run: %d, w: %d, op: %d} }", run, w, op)
						if updateWithRetry(t.Context(), c, name, code) {
							mu.Lock()
							codes = append(codes, entity.Digest([]byte(code)))
							mu.Unlock()
						}
					case 1: // publish
						var out struct {
							Version int    `json:"version"`
							Digest  string `json:"digest"`
						}
						status := e.Admin(t, e.EP.Auth, "POST", fn+"/versions", nil, &out)
						assert.Contains(t, []int{200, 201, 409}, status, "run %d: publish", run)
						if status == 200 || status == 201 {
							mu.Lock()
							if d, ok := published[out.Version]; ok {
								assert.Equal(t, d, out.Digest, "run %d: version %d answered with two digests", run, out.Version)
							}
							published[out.Version] = out.Digest
							mu.Unlock()
						}
					case 2: // move the alias
						// 400 names a version not published yet.
						status, b := e.AdminRaw(t, e.EP.Auth, "PUT", fn+"/aliases/prod", map[string]any{"version": 1 + wr.IntN(3)})
						if status == http.StatusBadRequest {
							assert.Contains(t, string(b), "does not exist", "run %d: alias", run)
						} else {
							assert.Contains(t, []int{200, 409}, status, "run %d: alias: %s", run, b)
						}
					case 3: // run-time settings
						status, b := e.AdminRaw(t, e.EP.Auth, "PUT", fn+"/config", map[string]any{"memorySize": 128 + 64*wr.IntN(7)})
						assert.Contains(t, []int{200, 409}, status, "run %d: config: %s", run, b)
					}
				}
			}()
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		checkContended(t, e, c, name, codes, published)
		runs.Add(1)
	}
}

// updateWithRetry updates the action as `wsk action update` does,
// retrying a conflict (fnmgr writes the same document) as a user would.
func updateWithRetry(ctx context.Context, c *whisk.Client, name, code string) bool {
	for range 30 {
		a := &whisk.Action{Name: name, Namespace: "_", Exec: &whisk.Exec{Kind: "nodejs:default", Code: &code}}
		_, resp, err := c.Actions.Insert(a, true)
		if err == nil {
			return true
		}
		if resp == nil || resp.StatusCode != http.StatusConflict {
			return false
		}
		testkit.Pause(ctx, 20*time.Millisecond) // a user's pause before trying again
	}
	return false
}

func checkContended(t *testing.T, e *stackenv.Env, c *whisk.Client, name string, codes []string, published map[int]string) {
	t.Helper()
	fn := stackenv.FnPath("guest", name)
	type revision struct {
		Revision int    `json:"revision"`
		Digest   string `json:"digest"`
		Snapshot struct {
			Exec struct {
				CodeDigest string `json:"codeDigest"`
			} `json:"exec"`
		} `json:"snapshot"`
	}
	var revs []revision
	require.Eventually(t, func() bool { // every committed update observed
		revs = nil
		if e.Admin(t, stackenv.AsAdmin, "GET", fn+"/revisions", nil, &revs) != http.StatusOK {
			return false
		}
		seen := map[string]bool{}
		for _, r := range revs {
			seen[r.Snapshot.Exec.CodeDigest] = true
		}
		for _, d := range codes {
			if !seen[d] {
				return false
			}
		}
		return true
	}, 30*time.Second, 20*time.Millisecond, "%s: every committed update is a revision", name)
	f := e.WaitFn(t, "guest", name, 30*time.Second, func(f stackenv.Function) bool { return f.Transition == nil })
	require.Contains(t, []string{"LATEST", "PUBLISHED"}, f.State, name)

	for i, r := range revs {
		require.Equal(t, len(revs)-i, r.Revision, "%s: revision numbers unique, without a gap", name)
	}
	revDigests := map[string]bool{}
	for _, r := range revs {
		revDigests[r.Digest] = true
	}

	var versions []struct {
		Version int    `json:"version"`
		Digest  string `json:"digest"`
	}
	require.Equal(t, http.StatusOK, e.Admin(t, stackenv.AsAdmin, "GET", fn+"/versions", nil, &versions))
	var vnums []int
	for _, v := range versions {
		vnums = append(vnums, v.Version)
		require.True(t, revDigests[v.Digest], "%s: version %d is a published revision", name, v.Version)
		if d, ok := published[v.Version]; ok {
			require.Equal(t, d, v.Digest, "%s: version %d is what publish answered", name, v.Version)
		}
		// name@N is the OpenWhisk action of the version, with its code.
		var ver struct {
			Code     string `json:"code"`
			Snapshot struct {
				Exec struct {
					CodeDigest string `json:"codeDigest"`
				} `json:"exec"`
			} `json:"snapshot"`
		}
		require.Equal(t, http.StatusOK, e.Admin(t, stackenv.AsAdmin, "GET", fmt.Sprintf("%s/versions/%d?code=true", fn, v.Version), nil, &ver))
		a, _, err := c.Actions.Get(fmt.Sprintf("%s@%d", name, v.Version), true)
		require.NoError(t, err, "%s@%d exists", name, v.Version)
		require.Equal(t, ver.Snapshot.Exec.CodeDigest, entity.Digest([]byte(*a.Exec.Code)), "%s@%d runs version %d's code", name, v.Version, v.Version)
	}
	require.True(t, slices.IsSorted(vnums), "%s: versions in order: %v", name, vnums)
	require.Equal(t, len(slices.Compact(slices.Clone(vnums))), len(vnums), "%s: version numbers unique: %v", name, vnums)
	for n := range published {
		require.Contains(t, vnums, n, "%s: published version %d kept", name, n)
	}
	for alias, a := range f.Aliases {
		for _, r := range a.Routing {
			require.Contains(t, vnums, r.Version, "%s: alias %s names a version that exists", name, alias)
		}
	}
	// The head action runs the head's code.
	head, _, err := c.Actions.Get(name, true)
	require.NoError(t, err)
	require.Equal(t, revs[0].Snapshot.Exec.CodeDigest, entity.Digest([]byte(*head.Exec.Code)), "%s: the action is the head", name)
}
