// Package replicas runs three fnmgr replicas against one local stack and
// crashes and pauses the leader while an action is updated and invoked
// (SPEC.md section 6, issue 13): no revision lost or recorded twice, a new
// leader within 10 s, writes of a paused leader fenced off.
package replicas

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
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
	"github.com/fnmgr/fnmgr/tests/harness"
	"github.com/fnmgr/fnmgr/tests/stackenv"
)

var env *stackenv.Env

func TestMain(m *testing.M) { os.Exit(stackenv.Run(m, stackenv.Options{}, &env)) }

// Short leases keep the test quick; takeover is bounded by TTL + renew.
const (
	leaseTTL   = "3s"
	leaseRenew = "500ms"
	leaseSkew  = "500ms"
)

// replica is one `fnmgr serve` process of the test.
type replica struct {
	id, admin, gateway string
	cmd                *exec.Cmd
	done               chan struct{}
	log                string
}

func (r *replica) alive() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

func (r *replica) signal(sig syscall.Signal) { _ = syscall.Kill(r.cmd.Process.Pid, sig) }

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// startReplicas stops the stack's own fnmgr and starts n replicas with the
// same settings, each with its own id and ports.
func startReplicas(t *testing.T, e *stackenv.Env, n int) []*replica {
	t.Helper()
	require.NoError(t, e.Stack.KillFnmgr())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = e.Stack.StartFnmgr(ctx)
	})
	bin, err := harness.FnmgrBin(filepath.Join(t.TempDir(), "bin"))
	require.NoError(t, err)
	var rs []*replica
	for i := range n {
		admin, gw := freePort(t), freePort(t)
		r := &replica{id: fmt.Sprintf("r%d", i), admin: "http://" + admin, gateway: "http://" + gw, done: make(chan struct{}),
			log: filepath.Join(t.TempDir(), fmt.Sprintf("fnmgr-r%d.log", i))}
		cmd := exec.Command(bin, "serve")
		cmd.Env = append(os.Environ(),
			config.EnvAdminAddr+"="+admin, config.EnvGatewayAddr+"="+gw,
			config.EnvControllers+"="+e.EP.APIHost, config.EnvCouchURL+"="+e.EP.CouchDB,
			config.EnvOWDBPrefix+"="+stack.DBPrefix, config.EnvKafkaBrokers+"="+strings.Join(e.EP.Kafka, ","),
			config.EnvAdminToken+"="+e.EP.AdminToken, config.EnvReplicaID+"="+r.id,
			config.EnvLeaseTTL+"="+leaseTTL, config.EnvLeaseRenew+"="+leaseRenew, config.EnvLeaseSkew+"="+leaseSkew)
		f, err := os.Create(r.log)
		require.NoError(t, err)
		cmd.Stdout, cmd.Stderr = f, f
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		require.NoError(t, cmd.Start())
		r.cmd = cmd
		go func() { _ = cmd.Wait(); f.Close(); close(r.done) }()
		t.Cleanup(func() {
			r.signal(syscall.SIGCONT)
			r.signal(syscall.SIGKILL)
			<-r.done
			if t.Failed() {
				b, _ := os.ReadFile(r.log)
				t.Logf("--- %s log (end) ---\n%s", r.id, b[max(0, len(b)-4000):])
			}
		})
		rs = append(rs, r)
	}
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
func leaderOf(r *replica) string {
	resp, err := hc.Get(r.admin + "/v1/leader")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var l struct{ ID, Admin string }
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&l) != nil {
		return ""
	}
	return l.ID
}

// agreedLeader waits until every live replica names the same leader, and
// returns it.
func agreedLeader(t *testing.T, rs []*replica, within time.Duration) *replica {
	t.Helper()
	var lead *replica
	require.Eventually(t, func() bool {
		id := ""
		for _, r := range rs {
			if !r.alive() {
				continue
			}
			l := leaderOf(r)
			if l == "" || (id != "" && l != id) {
				return false
			}
			id = l
		}
		for _, r := range rs {
			if r.id == id && r.alive() {
				lead = r
				return true
			}
		}
		return false
	}, within, 20*time.Millisecond)
	return lead
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

// invoker calls name through every live replica's gateway in turn until
// stopped, counting failures by replica.
type invoker struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	failedOn   map[string]int
	first      string
	stop       chan struct{}
	done       sync.WaitGroup
}

func invoke(e *stackenv.Env, rs []*replica, name string) *invoker {
	iv := &invoker{failedOn: map[string]int{}, stop: make(chan struct{})}
	iv.done.Add(1)
	go func() {
		defer iv.done.Done()
		// A steady stream, paced so that two cores keep up with it.
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-iv.stop:
				return
			case <-tick.C:
			}
			r := rs[i%len(rs)]
			if !r.alive() {
				continue
			}
			req, _ := http.NewRequest(http.MethodPost, r.gateway+"/api/v1/namespaces/_/actions/"+name+"?blocking=true&result=true", strings.NewReader("{}"))
			u, k, _ := strings.Cut(e.EP.Auth, ":")
			req.SetBasicAuth(u, k)
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != http.StatusOK {
				if err == nil && iv.first == "" {
					iv.first = fmt.Sprintf("%s: %s", r.id, resp.Status)
				}
				iv.failed.Add(1)
				iv.mu.Lock()
				iv.failedOn[r.id]++
				iv.mu.Unlock()
				continue
			}
			iv.ok.Add(1)
		}
	}()
	return iv
}

func (iv *invoker) halt() map[string]int {
	close(iv.stop)
	iv.done.Wait()
	iv.mu.Lock()
	defer iv.mu.Unlock()
	return iv.failedOn
}

// TestKillLeaderDuringUpdates: three replicas; 40 updates of an action
// while it is invoked through every gateway; the leader is killed with
// SIGKILL halfway. Another replica leads within 10 s, the action has
// exactly 41 revisions, calls fail only on the killed replica, and a block
// sent to a follower is carried out and effective on the controller.
func TestKillLeaderDuringUpdates(t *testing.T) {
	e := stackenv.Need(t, env)
	rs := startReplicas(t, e, 3)
	lead := agreedLeader(t, rs, 20*time.Second)
	const name, updates = "replicated-kill", 40
	putAction(t, e, name, "function main(){ return {n: 0} }")
	iv := invoke(e, rs, name)
	var killedAt time.Time
	for i := 1; i <= updates; i++ {
		if i == updates/2 {
			lead.signal(syscall.SIGKILL)
			<-lead.done
			killedAt = time.Now()
		}
		putAction(t, e, name, fmt.Sprintf("function main(){ return {n: %d} }", i))
	}
	next := agreedLeader(t, rs, 10*time.Second-time.Since(killedAt))
	takeover := time.Since(killedAt)
	require.NotEqual(t, lead.id, next.id)
	t.Logf("takeover after %v", takeover)
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
	failedOn := iv.halt()
	for id, n := range failedOn {
		require.Equal(t, lead.id, id, "%d calls failed on live replica %s (first: %s)", n, id, iv.first)
	}
	require.Positive(t, iv.ok.Load())

	var follower *replica
	for _, r := range rs {
		if r.alive() && r != next {
			follower = r
		}
	}
	req, _ := http.NewRequest(http.MethodPost, follower.admin+stackenv.FnPath("guest", name)+"/block", strings.NewReader(`{"reason":"incident"}`))
	req.Header.Set("Authorization", "Bearer "+e.EP.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "block through a follower: %s", b)
	require.Eventually(t, func() bool {
		st, b := e.Call(t, e.EP.Auth, http.MethodPost, e.EP.APIHost, "/api/v1/namespaces/_/actions/"+name+"?blocking=true&result=true", []byte("{}"))
		return st != http.StatusOK && strings.Contains(string(b), "BLOCKED")
	}, 5*time.Second, 20*time.Millisecond, "the block is effective on the controller")
}

// TestPausedLeaderIsFenced: the leader is stopped (SIGSTOP) for longer
// than its lease while the action is updated, then resumed. Another
// replica leads meanwhile; the resumed one writes nothing (it stops on
// finding its lease lost), every update is recorded exactly once, and the
// live replicas name one leader.
func TestPausedLeaderIsFenced(t *testing.T) {
	e := stackenv.Need(t, env)
	rs := startReplicas(t, e, 3)
	lead := agreedLeader(t, rs, 20*time.Second)
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
	next := agreedLeader(t, others, 15*time.Second)
	require.NotEqual(t, lead.id, next.id)
	if d := 2*ttl - time.Since(paused); d > 0 {
		// Keep it paused past its lease for sure: nothing to await on a
		// stopped process.
		time.Sleep(d)
	}
	lead.signal(syscall.SIGCONT)
	select {
	case <-lead.done:
	case <-time.After(15 * time.Second):
		t.Fatal("the resumed leader kept running after losing its lease")
	}
	b, _ := os.ReadFile(lead.log)
	require.Contains(t, string(b), "lost the lead")
	require.Equal(t, next.id, agreedLeader(t, rs, 5*time.Second).id, "the live replicas name one leader")
	var digests []string
	require.Eventually(t, func() bool {
		digests = revisions(t, next, e.EP.AdminToken, name)
		return len(digests) >= updates+1
	}, 20*time.Second, 50*time.Millisecond)
	require.Len(t, digests, updates+1, "every update recorded exactly once")
}
