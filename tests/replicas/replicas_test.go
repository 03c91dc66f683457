// Package replicas runs three fnmgr replicas against one local stack and
// crashes and pauses the leader while an action is updated and invoked
// (SPEC.md section 6, issue 13): no revision lost or recorded twice, a new
// leader within 10 s, writes of a paused leader fenced off.
package replicas

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/deploy/local/stack"
	"github.com/fnmgr/fnmgr/plugin/config"
	"github.com/fnmgr/fnmgr/tests/stackenv"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

var env *stackenv.Env

// Short leases keep the test quick; takeover is bounded by TTL + renew.
const (
	leaseTTL   = "5s"
	leaseRenew = "1s"
	leaseSkew  = "1s"
	replicas   = 3
)

func TestMain(m *testing.M) {
	// The stack's replicas inherit this process's environment.
	for k, v := range map[string]string{config.EnvLeaseTTL: leaseTTL, config.EnvLeaseRenew: leaseRenew, config.EnvLeaseSkew: leaseSkew} {
		if err := os.Setenv(k, v); err != nil {
			panic(err)
		}
	}
	os.Exit(stackenv.Run(m, stackenv.Options{Modify: func(o *stack.Options) { o.FnmgrReplicas = replicas }}, &env))
}

// replica is one fnmgr replica of the stack, as endpoints.json lists it.
type replica struct {
	i                  int
	id, admin, gateway string
	pid                int
}

func (r *replica) alive() bool { return syscall.Kill(r.pid, 0) == nil }

func (r *replica) signal(sig syscall.Signal) { _ = syscall.Kill(r.pid, sig) }

// stackReplicas reads the stack's replicas and waits until each is ready.
func stackReplicas(t *testing.T, e *stackenv.Env) []*replica {
	t.Helper()
	var rs []*replica
	for i, f := range e.Stack.Endpoints().Fnmgr {
		rs = append(rs, &replica{i: i, id: fmt.Sprintf("fnmgr-%d", i), admin: f.Admin, gateway: f.Gateway, pid: f.PID})
	}
	require.Len(t, rs, replicas)
	for _, r := range rs {
		require.Eventually(t, func() bool { return status(r.admin+"/readyz") == http.StatusOK }, 60*time.Second, 50*time.Millisecond,
			"replica %s never ready", r.id)
	}
	return rs
}

var hc = &http.Client{Timeout: 10 * time.Second}

func status(u string) int {
	resp, err := hc.Get(u)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// leaderOf asks r's GET /v1/leader; "" when r does not answer or knows none.
func leaderOf(r *replica) (string, int64) {
	resp, err := hc.Get(r.admin + "/v1/leader")
	if err != nil {
		return "", 0
	}
	defer resp.Body.Close()
	var l struct {
		ID, Admin string
		Epoch     int64
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&l) != nil {
		return "", 0
	}
	return l.ID, l.Epoch
}

// agreedLeader waits until every replica that answers (at least two)
// names the same leader with an epoch above after, and returns it and its
// epoch.
func agreedLeader(t *testing.T, rs []*replica, after int64, within time.Duration) (*replica, int64) {
	t.Helper()
	var lead *replica
	var epoch int64
	require.Eventually(t, func() bool {
		id, answered := "", 0
		for _, r := range rs {
			l, ep := leaderOf(r)
			if l == "" {
				continue
			}
			if (id != "" && l != id) || ep <= after {
				return false
			}
			id, epoch, answered = l, ep, answered+1
		}
		for _, r := range rs {
			if r.id == id && answered >= 2 {
				lead = r
				return true
			}
		}
		return false
	}, within, 20*time.Millisecond)
	return lead, epoch
}

// putAction creates or updates the action through the controller.
func putAction(t *testing.T, e *stackenv.Env, name, code string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"exec": map[string]any{"kind": "nodejs:default", "code": code}})
	st, b := e.Call(t, e.EP.Auth, http.MethodPut, e.EP.APIHost, "/api/v1/namespaces/_/actions/"+name+"?overwrite=true", body)
	require.Equal(t, http.StatusOK, st, "%s", b)
}

// revisions lists the digests of name's revisions as r's admin API says.
func revisions(t *testing.T, r *replica, token, name string) []string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, r.admin+stackenv.FnPath("guest", name)+"/revisions?limit=200", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	var revs []struct {
		Revision int    `json:"revision"`
		Digest   string `json:"digest"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&revs))
	out := make([]string, 0, len(revs))
	for _, rv := range revs {
		out = append(out, rv.Digest)
	}
	return out
}

// invoker calls name through nginx's gateway from a few concurrent
// streams until stopped, counting failures.
type invoker struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	first      string
	stop       chan struct{}
	done       sync.WaitGroup
}

const streams = 4

func invoke(e *stackenv.Env, name string) *invoker {
	iv := &invoker{stop: make(chan struct{})}
	for range streams {
		iv.done.Add(1)
		go func() {
			defer iv.done.Done()
			// A steady stream, paced so that two cores keep up with it.
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-iv.stop:
					return
				case <-tick.C:
				}
				iv.call(e, name)
			}
		}()
	}
	return iv
}

func (iv *invoker) call(e *stackenv.Env, name string) {
	req, _ := http.NewRequest(http.MethodPost, e.EP.Gateway+"/api/v1/namespaces/_/actions/"+name+"?blocking=true&result=true", strings.NewReader("{}"))
	u, k, _ := strings.Cut(e.EP.Auth, ":")
	req.SetBasicAuth(u, k)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	msg := ""
	if err != nil {
		msg = err.Error()
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			msg = resp.Status
		}
	}
	if msg == "" {
		iv.ok.Add(1)
		return
	}
	iv.failed.Add(1)
	iv.mu.Lock()
	if iv.first == "" {
		iv.first = msg
	}
	iv.mu.Unlock()
}

func (iv *invoker) halt() {
	close(iv.stop)
	iv.done.Wait()
}

// adminPost sends an admin write through nginx as the admin.
func adminPost(t *testing.T, e *stackenv.Env, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.EP.Admin+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.EP.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestKillLeaderDuringUpdates: three replicas behind nginx; 40 updates of
// an action while it is invoked through nginx; the leader is killed with
// SIGKILL halfway. Another replica leads within 10 s, the action has
// exactly 41 revisions, at most the calls in flight on the killed replica
// fail, and a block sent through nginx right after is effective on the
// controller.
func TestKillLeaderDuringUpdates(t *testing.T) {
	e := stackenv.Need(t, env)
	rs := stackReplicas(t, e)
	lead, epoch := agreedLeader(t, rs, 0, 20*time.Second)
	const name, updates = "replicated-kill", 40
	putAction(t, e, name, "function main(){ return {n: 0} }")
	iv := invoke(e, name)
	var killedAt time.Time
	for i := 1; i <= updates; i++ {
		if i == updates/2 {
			_, err := e.Stack.KillReplica(lead.i)
			require.NoError(t, err)
			killedAt = time.Now()
		}
		putAction(t, e, name, fmt.Sprintf("function main(){ return {n: %d} }", i))
	}
	// The lead is taken again within 10 s: by another replica once the
	// lease expires, or by the killed one, restarted by the stack under
	// its own id, which takes its own lease back at once.
	next, _ := agreedLeader(t, rs, epoch, 10*time.Second-time.Since(killedAt))
	t.Logf("%s took the lead %v after the kill", next.id, time.Since(killedAt))
	var digests []string
	require.Eventually(t, func() bool {
		digests = revisions(t, next, e.EP.AdminToken, name)
		return len(digests) >= updates+1
	}, 20*time.Second, 50*time.Millisecond)
	require.Len(t, digests, updates+1, "no revision lost, none recorded twice")
	seen := map[string]bool{}
	for _, d := range digests {
		require.False(t, seen[d], "a revision recorded twice")
		seen[d] = true
	}
	iv.halt()
	require.LessOrEqual(t, iv.failed.Load(), int64(streams), "only calls in flight on the killed replica may fail (first: %s)", iv.first)
	require.Positive(t, iv.ok.Load())

	st, b := adminPost(t, e, stackenv.FnPath("guest", name)+"/block", `{"reason":"incident"}`)
	require.Equal(t, http.StatusOK, st, "block through nginx: %s", b)
	require.Eventually(t, func() bool {
		st, b := e.Call(t, e.EP.Auth, http.MethodPost, e.EP.APIHost, "/api/v1/namespaces/_/actions/"+name+"?blocking=true&result=true", []byte("{}"))
		return st != http.StatusOK && strings.Contains(string(b), "BLOCKED")
	}, 5*time.Second, 20*time.Millisecond, "the block is effective on the controller")
}

// TestPausedLeaderIsFenced: the leader is stopped (SIGSTOP) for longer
// than its lease while the action is updated, then resumed. Another
// replica leads meanwhile; the resumed one writes nothing (it stops on
// finding its lease lost, and the stack starts it again as a follower),
// every update is recorded exactly once, and all replicas name one leader.
func TestPausedLeaderIsFenced(t *testing.T) {
	e := stackenv.Need(t, env)
	rs := stackReplicas(t, e)
	lead, epoch := agreedLeader(t, rs, 0, 20*time.Second)
	const name, updates = "replicated-pause", 12
	putAction(t, e, name, "function main(){ return {n: 0} }")
	require.Eventually(t, func() bool { return len(revisions(t, lead, e.EP.AdminToken, name)) == 1 }, 10*time.Second, 20*time.Millisecond)
	lead.signal(syscall.SIGSTOP)
	ttl, _ := time.ParseDuration(leaseTTL)
	paused := time.Now()
	for i := 1; i <= updates; i++ {
		putAction(t, e, name, fmt.Sprintf("function main(){ return {n: %d} }", i))
	}
	var others []*replica
	for _, r := range rs {
		if r != lead {
			others = append(others, r)
		}
	}
	// No bound on this takeover is promised (kill -9: 10 s, TestKillLeaderDuringUpdates);
	// a loaded CI host running other packages beside this one needs the room.
	next, epoch := agreedLeader(t, others, epoch, 30*time.Second)
	require.NotEqual(t, lead.id, next.id)
	if d := 2*ttl - time.Since(paused); d > 0 {
		// Keep it paused past its lease for sure: a chosen length of the
		// fault (a stopped process has nothing to await).
		testkit.Pause(t.Context(), d)
	}
	lead.signal(syscall.SIGCONT)
	require.Eventually(t, func() bool { return !lead.alive() }, 15*time.Second, 20*time.Millisecond,
		"the resumed leader must stop on finding its lease lost")
	again, _ := agreedLeader(t, rs, epoch-1, 20*time.Second)
	require.Equal(t, next.id, again.id, "all replicas name one leader")
	var digests []string
	require.Eventually(t, func() bool {
		digests = revisions(t, next, e.EP.AdminToken, name)
		return len(digests) >= updates+1
	}, 20*time.Second, 50*time.Millisecond)
	require.Len(t, digests, updates+1, "every update recorded exactly once")
}

// TestKillAnyReplicaDuringTransitions is the bounded three-replica variant
// of tests/e2e's TestKillDuringTransitions: block, unblock, update and
// retire are sent through nginx (to any replica, forwarded to the leader)
// and a random replica, leader or not, is killed at a random point. Once
// the replicas agree on a leader again, no transition is left half done,
// the function is in a state of the lifecycle table, and its code is
// intact.
func TestKillAnyReplicaDuringTransitions(t *testing.T) {
	e := stackenv.Need(t, env)
	t.Cleanup(func() { logReplicas(t, e, "replicated-crash-") })
	rs := stackReplicas(t, e)
	_, epoch := agreedLeader(t, rs, 0, 20*time.Second)
	ops := []string{"block", "unblock", "update", "retire"}
	for i := range 8 {
		op := ops[i%len(ops)]
		name := fmt.Sprintf("replicated-crash-%02d", i)
		putAction(t, e, name, "function main(){ return {v: 'before'} }")
		e.WaitFn(t, "guest", name, 10*time.Second, func(f stackenv.Function) bool { return f.Head.Revision == 1 })
		if op == "unblock" {
			st, b := adminPost(t, e, stackenv.FnPath("guest", name)+"/block", `{}`)
			require.Equal(t, http.StatusOK, st, "%s", b)
		}
		body := `{}`
		switch op {
		case "update":
			body = `{"exec":{"kind":"nodejs:20","code":"function main(){ return {v: 'after'} }"}}`
		case "retire":
			body = `{"graceSeconds":3600}`
		}
		go func() { // the request may die with the replica
			req, _ := http.NewRequest(http.MethodPost, e.EP.Admin+stackenv.FnPath("guest", name)+"/"+op, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+e.EP.AdminToken)
			req.Header.Set("Content-Type", "application/json")
			if resp, err := hc.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		testkit.Pause(t.Context(), time.Duration(rand.IntN(120))*time.Millisecond) // a random point of the transition, drawn
		victim := rand.IntN(len(rs))
		_, err := e.Stack.KillReplica(victim)
		require.NoError(t, err)
		rs = stackReplicas(t, e) // restarted by the stack, new pids
		_, epoch = agreedLeader(t, rs, epoch-1, 20*time.Second)

		var f stackenv.Function
		require.Eventually(t, func() bool {
			f = stackenv.Function{}
			return e.Admin(t, stackenv.AsAdmin, http.MethodGet, stackenv.FnPath("guest", name), nil, &f) == http.StatusOK && f.Transition == nil
		}, 20*time.Second, 50*time.Millisecond, "run %d (%s, replica %d killed): a transition was left half done", i, op, victim)
		require.Contains(t, []string{"LATEST", "PUBLISHED", "BLOCKED", "RETIRED"}, f.State, "run %d (%s)", i, op)
		invoke := func() (int, string) {
			st, b := e.Call(t, e.EP.Auth, http.MethodPost, e.EP.APIHost, "/api/v1/namespaces/_/actions/"+name+"?blocking=true&result=true", []byte("{}"))
			return st, string(b)
		}
		switch f.State {
		case "RETIRED":
			st, _ := invoke()
			require.NotEqual(t, http.StatusOK, st, "run %d: a retired function must not run", i)
			continue
		case "BLOCKED":
			require.Eventually(t, func() bool { _, b := invoke(); return strings.Contains(b, "BLOCKED") }, 5*time.Second, 20*time.Millisecond, "run %d", i)
			st, b := adminPost(t, e, stackenv.FnPath("guest", name)+"/unblock", `{}`)
			require.Equal(t, http.StatusOK, st, "run %d: %s", i, b)
		}
		var st int
		var out string
		_ = testkit.Await(t.Context(), 5*time.Second, 20*time.Millisecond, func() bool { st, out = invoke(); return st == http.StatusOK })
		require.Equal(t, http.StatusOK, st, "run %d (%s, state %s, replica %d killed): the code must be intact: %s", i, op, f.State, victim, out)
		if op == "update" {
			require.Regexp(t, `"v":\s*"(before|after)"`, out, "run %d", i)
		} else {
			require.Regexp(t, `"v":\s*"before"`, out, "run %d (%s)", i, op)
		}
	}
}

// logReplicas logs, when t failed, the replicas' log lines that mention
// grep, their leadership changes, warnings and errors.
func logReplicas(t *testing.T, e *stackenv.Env, grep string) {
	if !t.Failed() {
		return
	}
	for i := range replicas {
		b, err := os.ReadFile(filepath.Join(e.Dir, fmt.Sprintf("fnmgr-%d.log", i)))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, grep) || strings.Contains(l, "lead") || strings.Contains(l, "started") ||
				strings.Contains(l, `"level":"WARN"`) || strings.Contains(l, `"level":"ERROR"`) {
				t.Logf("fnmgr-%d: %s", i, l)
			}
		}
	}
}
