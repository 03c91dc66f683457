// Command replicas measures fnmgr as three replicas behind nginx
// (docs/benchmarks.md): the takeover time after a kill -9 of the leader,
// from the kill until every replica names a leader with a newer lease
// epoch, over -kills kills; and, in the same run, the latency of a
// blocking invocation straight to the controller, through one replica's
// gateway without nginx, and through nginx in front of the three
// replicas, interleaved call by call.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fnmgr/fnmgr/deploy/local/stack"
	"github.com/fnmgr/fnmgr/tests/stackenv"
)

func main() {
	kills := flag.Int("kills", 20, "kills of the leader")
	pauses := flag.Int("pauses", 10, "SIGSTOPs of the leader (another replica must take over)")
	calls := flag.Int("calls", 300, "invocations per path")
	bin := flag.String("fnmgr-bin", "", "fnmgr executable (default: fnmgr from $FNMGR_TEST_BIN_DIR, else beside this executable, else in the repository's bin/, else built)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *kills, *pauses, *calls, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "replicas:", err)
		os.Exit(1)
	}
}

var hc = &http.Client{Timeout: 30 * time.Second}

func run(ctx context.Context, kills, pauses, calls int, bin string) error {
	st, err := stackenv.Launch(ctx, stackenv.Options{FnmgrBin: bin, Modify: func(o *stack.Options) { o.FnmgrReplicas = 3 }})
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Stop(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	ep := st.Stack.Endpoints()
	fmt.Printf("machine: %s\nstack: 3 fnmgr replicas behind nginx, lease TTL %s, renewal %s\n\n", stackenv.Machine(),
		envOr("FNMGR_LEASE_TTL", "5s"), envOr("FNMGR_LEASE_RENEW", "1s"))
	if err := latency(ctx, ep, calls); err != nil {
		return err
	}
	if err := takeovers(ctx, st, kills, false); err != nil {
		return err
	}
	return takeovers(ctx, st, pauses, true)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// latency invokes a trivial action over the three paths in turn.
func latency(ctx context.Context, ep stack.Endpoints, calls int) error {
	body := `{"exec":{"kind":"nodejs:default","code":"function main(){ return {ok: true} }"}}`
	if code, err := call(ctx, ep, http.MethodPut, ep.APIHost, "/api/v1/namespaces/_/actions/lat?overwrite=true", body); err != nil || code != 200 {
		return fmt.Errorf("create the action: %d %v", code, err)
	}
	paths := []struct{ name, base string }{
		{"controller (no fnmgr)", ep.APIHost},
		{"one replica's gateway, no nginx", ep.Fnmgr[0].Gateway},
		{"nginx -> 3 replicas' gateways", ep.Gateway},
	}
	lat := make([][]time.Duration, len(paths))
	for i := range calls + 20 {
		for j, p := range paths {
			t0 := time.Now()
			code, err := call(ctx, ep, http.MethodPost, p.base, "/api/v1/namespaces/_/actions/lat?blocking=true&result=true", "{}")
			if err != nil || code != 200 {
				return fmt.Errorf("%s: %d %v", p.name, code, err)
			}
			if i >= 20 { // the first calls warm the runtime up
				lat[j] = append(lat[j], time.Since(t0))
			}
		}
	}
	fmt.Printf("blocking invocations, %d per path, interleaved:\n| path | p50 | p99 | added p50 |\n|---|---|---|---|\n", calls)
	base := stackenv.Quantile(lat[0], 0.5)
	for j, p := range paths {
		p50 := stackenv.Quantile(lat[j], 0.5)
		fmt.Printf("| %s | %s | %s | %s |\n", p.name, stackenv.Ms(p50), stackenv.Ms(stackenv.Quantile(lat[j], 0.99)), stackenv.Ms(p50-base))
	}
	fmt.Println()
	return nil
}

// takeovers kills (or, with pause, stops with SIGSTOP: no restart, so
// another replica must take the lease) the leader kills times and times
// the takeover.
func takeovers(ctx context.Context, st *stackenv.Env, kills int, pause bool) error {
	var ds []time.Duration
	by := map[string]int{}
	for k := range kills {
		if err := allReady(ctx, st); err != nil {
			return err
		}
		id, epoch, err := agreed(ctx, st, 0)
		if err != nil {
			return err
		}
		i, err := strconv.Atoi(strings.TrimPrefix(id, "fnmgr-"))
		if err != nil {
			return fmt.Errorf("leader %q: %w", id, err)
		}
		pid := st.Stack.Endpoints().Fnmgr[i].PID
		if pause {
			_ = syscall.Kill(pid, syscall.SIGSTOP)
		} else if _, err := st.Stack.KillReplica(i); err != nil {
			return err
		}
		t0 := time.Now()
		next, _, err := agreed(ctx, st, epoch)
		if pause {
			// Resumed, it finds its lease lost and exits; the stack
			// starts it again.
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
		if err != nil {
			return fmt.Errorf("kill %d: %w", k, err)
		}
		ds = append(ds, time.Since(t0))
		if next == id {
			by["the killed replica, restarted"]++
		} else {
			by["another replica"]++
		}
	}
	what := "kill -9"
	if pause {
		what = "SIGSTOP"
	}
	fmt.Printf("takeover after %s of the leader, %d times: p50 %s, p99 %s, max %s; taken by %v\n", what, kills,
		stackenv.Ms(stackenv.Quantile(ds, 0.5)), stackenv.Ms(stackenv.Quantile(ds, 0.99)), stackenv.Ms(stackenv.Quantile(ds, 1)), by)
	return nil
}

// agreed waits until the replicas that answer (two at least) name one
// leader with an epoch above after.
func agreed(ctx context.Context, st *stackenv.Env, after int64) (string, int64, error) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		id, epoch, n, same := "", int64(0), 0, true
		for _, a := range leaders(ctx, st.Stack.Endpoints().Fnmgr) {
			l, e := a.id, a.epoch
			if l == "" {
				continue
			}
			if id != "" && (l != id || e != epoch) {
				same = false
			}
			id, epoch, n = l, e, n+1
		}
		if same && n >= 2 && epoch > after {
			return id, epoch, nil
		}
		select {
		case <-ctx.Done():
			return "", 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return "", 0, fmt.Errorf("no agreed leader after epoch %d within 30 s", after)
}

func allReady(ctx context.Context, st *stackenv.Env) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		ok := true
		for _, r := range st.Stack.Endpoints().Fnmgr {
			if code, err := call(ctx, stack.Endpoints{}, http.MethodGet, r.Admin, "/readyz", ""); err != nil || code != 200 || !alive(r.PID) {
				ok = false
			}
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("replicas not ready within 60 s")
}

type answer struct {
	id    string
	epoch int64
}

// leaders asks every replica at once; a stopped one does not answer
// within the short timeout and counts as silent.
func leaders(ctx context.Context, rs []stack.FnmgrReplica) []answer {
	out := make([]answer, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].id, out[i].epoch = leaderOf(ctx, r.Admin)
		}()
	}
	wg.Wait()
	return out
}

var quick = &http.Client{Timeout: 500 * time.Millisecond}

// alive reports whether pid runs and is not stopped (a resumed replica
// that lost its lease exits shortly after).
func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func leaderOf(ctx context.Context, admin string) (string, int64) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, admin+"/v1/leader", nil)
	resp, err := quick.Do(req)
	if err != nil {
		return "", 0
	}
	defer resp.Body.Close()
	var l struct {
		ID    string
		Epoch int64
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&l) != nil {
		return "", 0
	}
	return l.ID, l.Epoch
}

func call(ctx context.Context, ep stack.Endpoints, method, base, path, body string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	if ep.Auth != "" {
		u, k, _ := strings.Cut(ep.Auth, ":")
		req.SetBasicAuth(u, k)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
