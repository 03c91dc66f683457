package actionrt

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const pidAction = `function main() { return {pid: process.pid}; }`

func TestWarmReuse(t *testing.T) {
	t.Parallel()
	o, _ := testOptions(t)
	p := newTestPool(t, o)
	cases := []struct {
		name  string
		first Action
		other Action
	}{
		{"node", node("warm-node", pidAction), node("warm-node-2", pidAction)},
		{"python", python("warm-py", "import os\ndef main(a):\n    return {'pid': os.getpid()}\n"), python("warm-py-2", "import os\ndef main(a):\n    return {'pid': os.getpid()}\n")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cold := run(t, p, tc.first, "")
			warm := run(t, p, tc.first, "")
			if cold.InitTime <= 0 || warm.InitTime != 0 {
				t.Errorf("InitTime cold %v warm %v, want >0 and 0", cold.InitTime, warm.InitTime)
			}
			pid := resultField[int](t, cold, "pid")
			if got := resultField[int](t, warm, "pid"); got != pid {
				t.Errorf("warm run on pid %d, want the cold worker %d", got, pid)
			}
			if got := resultField[int](t, run(t, p, tc.other, ""), "pid"); got == pid {
				t.Errorf("another key reused worker %d", pid)
			}
		})
	}
}

func TestDeveloperErrorDestroysWorker(t *testing.T) {
	t.Parallel()
	o, _ := testOptions(t)
	p := newTestPool(t, o)
	a := node("dev-err", `function main(p) { if (p.fail) return 'not an object'; return {pid: process.pid}; }`)
	pid := resultField[int](t, run(t, p, a, ""), "pid")
	if res := run(t, p, a, `{"fail":true}`); res.StatusCode != StatusDeveloperError {
		t.Fatalf("status %d, want 2", res.StatusCode)
	}
	if alive(pid) {
		t.Errorf("worker %d still alive after a developer error", pid)
	}
	res := run(t, p, a, "")
	if res.InitTime <= 0 || resultField[int](t, res, "pid") == pid {
		t.Errorf("next run did not cold-start a new worker")
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	o, _ := testOptions(t)
	p := newTestPool(t, o)
	cases := []struct {
		name, code, want string
		logged           string
	}{
		{"run", `function main() { console.log('pid', process.pid); while (true) {} }`, "The action exceeded its time limits of 400 milliseconds.", "stdout: pid "},
		{"async run", `function main() { console.log('pid', process.pid); return new Promise(() => {}); }`, "The action exceeded its time limits of 400 milliseconds.", "stdout: pid "},
		{"init", `console.log('pid', process.pid); while (true) {} function main() {}`, "The action exceeded its time limits of 400 milliseconds during initialization.", "stdout: pid "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := node("timeout-"+tc.name, tc.code)
			a.Timeout = 400 * time.Millisecond
			res := run(t, p, a, "")
			if res.StatusCode != StatusDeveloperError || !res.TimedOut || resultField[string](t, res, "error") != tc.want {
				t.Fatalf("status %d timedOut %v result %s", res.StatusCode, res.TimedOut, res.Result)
			}
			if len(res.Logs) != 2 || !strings.Contains(res.Logs[0], tc.logged) || !strings.HasSuffix(res.Logs[1], msgLogsMissing) {
				t.Fatalf("logs %q", res.Logs)
			}
			var pid int
			if _, err := fmtSscan(res.Logs[0][strings.Index(res.Logs[0], "pid ")+4:], &pid); err != nil {
				t.Fatal(err)
			}
			if alive(pid) {
				t.Errorf("timed out worker %d still alive", pid)
			}
			if d := res.End.Sub(res.Start); d < 400*time.Millisecond {
				t.Errorf("duration %v shorter than the timeout", d)
			}
		})
	}
}

func TestPoolWaitsWhenFull(t *testing.T) {
	t.Parallel()
	o, _ := testOptions(t)
	o.UserMemoryMB = 256
	p := newTestPool(t, o)
	release := filepath.Join(t.TempDir(), "release")
	blocker := node("blocker", `const fs = require('fs');
function main(p) { return new Promise(r => { const t = setInterval(() => { if (fs.existsSync(p.file)) { clearInterval(t); r({pid: process.pid}); } }, 5); }); }`)
	blocker.MemoryMB = 256
	second := node("second", pidAction)
	second.MemoryMB = 256
	params, _ := json.Marshal(map[string]string{"file": release})

	first := make(chan Result, 1)
	go func() { first <- run(t, p, blocker, string(params)) }()
	eventually(t, "blocker to hold the pool", func() bool { _, busy, used, _ := p.snapshot(); return busy == 1 && used == 256 })

	// A waiter whose context ends gives up without a result.
	ctx, cancel := context.WithCancel(context.Background())
	canceled := make(chan error, 1)
	go func() { _, err := p.Run(ctx, second, nil); canceled <- err }()
	eventually(t, "a waiter", func() bool { _, _, _, waiting := p.snapshot(); return waiting == 1 })
	cancel()
	if err := <-canceled; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled waiter: err = %v", err)
	}

	waited := make(chan Result, 1)
	go func() { waited <- run(t, p, second, "") }()
	eventually(t, "a waiter", func() bool { _, _, _, waiting := p.snapshot(); return waiting == 1 })
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r1, r2 := <-first, <-waited
	if r2.WaitTime <= 0 || r2.Start.Before(r1.End) || r2.InitTime <= 0 {
		t.Errorf("second run: wait %v start %v (first ended %v) init %v", r2.WaitTime, r2.Start, r1.End, r2.InitTime)
	}
	if pid := resultField[int](t, r1, "pid"); alive(pid) {
		t.Errorf("idle blocker %d not evicted to make room", pid)
	}
	if n, _, used, _ := p.snapshot(); n != 1 || used != 256 {
		t.Errorf("pool holds %d workers, %d MB", n, used)
	}
}

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	o, _ := testOptions(t)
	o.UserMemoryMB = 384
	p := newTestPool(t, o)
	pids := map[string]int{}
	for _, key := range []string{"a", "b", "a"} { // a is used last, so b is the LRU
		pids[key] = resultField[int](t, run(t, p, node(key, pidAction), ""), "pid")
	}
	c := node("c", pidAction)
	c.MemoryMB = 256
	run(t, p, c, "")
	if alive(pids["b"]) || !alive(pids["a"]) {
		t.Errorf("after eviction a alive=%v b alive=%v, want a kept and b evicted", alive(pids["a"]), alive(pids["b"]))
	}
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	o, _ := testOptions(t)
	o.IdleTimeout = 100 * time.Millisecond
	p := newTestPool(t, o)
	pid := resultField[int](t, run(t, p, node("idle", pidAction), ""), "pid")
	eventually(t, "the idle worker to stop", func() bool { n, _, used, _ := p.snapshot(); return n == 0 && used == 0 && !alive(pid) })
}

func TestCloseLeavesNothing(t *testing.T) {
	t.Parallel()
	o, _ := testOptions(t)
	p, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, a := range []Action{node("close-node", pidAction), python("close-py", "import os\ndef main(a):\n    return {'pid': os.getpid()}\n")} {
		pids = append(pids, resultField[int](t, run(t, p, a, ""), "pid"))
	}
	// A busy worker too: Close must kill it and fail its Run.
	busy := make(chan error, 1)
	go func() {
		_, err := p.Run(context.Background(), node("close-busy", `function main() { return new Promise(() => {}); }`), nil)
		busy <- err
	}()
	eventually(t, "the busy run", func() bool { return len(p.workerPIDs(true)) == 1 })
	pids = append(pids, p.workerPIDs(true)...)
	var dirs []string
	if p.cg != nil {
		dirs = p.cg.parents()
		p.mu.Lock()
		for w := range p.workers {
			w.mu.Lock()
			if w.cg != nil {
				dirs = append(dirs, w.cg.dirs()...)
			}
			w.mu.Unlock()
		}
		p.mu.Unlock()
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-busy; !errors.Is(err, ErrClosed) {
		t.Errorf("busy run: err = %v, want ErrClosed", err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("process %d survived Close", pid)
		}
	}
	for _, dir := range append(dirs, p.scratch) {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived Close (err %v)", dir, err)
		}
	}
	if _, err := p.Run(context.Background(), node("after", pidAction), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: err = %v, want ErrClosed", err)
	}
}

func TestRunRejects(t *testing.T) {
	t.Parallel()
	o, _ := testOptions(t)
	o.UserMemoryMB = 256
	p := newTestPool(t, o)
	big := node("big", pidAction)
	big.MemoryMB = 512
	cases := []struct {
		name   string
		action Action
		params string
		want   error
	}{
		{"unsupported kind", Action{Key: "j", Kind: "java:8"}, "", ErrUnsupportedKind},
		{"larger than the pool", big, "", ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.Run(context.Background(), tc.action, nil); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := p.Run(context.Background(), node("badparams", pidAction), json.RawMessage("{")); err == nil {
		t.Errorf("invalid params accepted")
	}
}

func TestStartFailureIsInternalError(t *testing.T) {
	t.Parallel()
	o, _ := testOptions(t)
	o.NodeBinary = filepath.Join(t.TempDir(), "no-such-node")
	p := newTestPool(t, o)
	if _, err := p.Run(context.Background(), node("nonode", pidAction), nil); err == nil {
		t.Fatal("Run with a missing node binary succeeded")
	}
	if n, _, used, _ := p.snapshot(); n != 0 || used != 0 {
		t.Errorf("failed start left %d workers, %d MB", n, used)
	}
}

// TestSecretsNotLogged: Env values reach the action but never the
// pool's log, and workers do not inherit the sidecar's environment.
func TestSecretsNotLogged(t *testing.T) {
	t.Setenv("FNMGR_TEST_SIDECAR_SECRET", "sidecar-secret-value")
	o, logs := testOptions(t)
	p := newTestPool(t, o)
	a := node("secret", `function main() { return {key: process.env.__OW_API_KEY, sidecar: process.env.FNMGR_TEST_SIDECAR_SECRET || 'absent'}; }`)
	a.Env = map[string]string{"__OW_API_KEY": "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:very-secret-key"}
	res := run(t, p, a, "")
	if got := resultField[string](t, res, "key"); got != a.Env["__OW_API_KEY"] {
		t.Errorf("action saw key %q", got)
	}
	if got := resultField[string](t, res, "sidecar"); got != "absent" {
		t.Errorf("worker inherited the sidecar environment: %q", got)
	}
	a.Code = []byte(`function main() { throw new Error('fail'); }`) // error paths log too
	a.Key = "secret-2"
	run(t, p, a, "")
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out := logs.String(); strings.Contains(out, "very-secret-key") || strings.Contains(out, "sidecar-secret-value") {
		t.Errorf("secret in the pool log:\n%s", out)
	}
}

func TestWithoutCgroups(t *testing.T) {
	t.Parallel()
	o, _ := testOptions(t)
	o.DisableCgroups = true
	p := newTestPool(t, o)
	if p.CgroupsEnabled() {
		t.Fatal("CgroupsEnabled with DisableCgroups")
	}
	if res := run(t, p, node("nocg", pidAction), ""); res.StatusCode != 0 {
		t.Errorf("status %d: %s", res.StatusCode, res.Result)
	}
}

// TestCgroupsUnavailableWarnsOnce: without a memory controller the pool
// logs one warning and still runs actions.
func TestCgroupsUnavailableWarnsOnce(t *testing.T) {
	t.Parallel()
	o, logs := testOptions(t)
	o.mountsFile = filepath.Join(t.TempDir(), "mounts")
	if err := os.WriteFile(o.mountsFile, []byte("proc /proc proc rw 0 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newTestPool(t, o)
	if p.CgroupsEnabled() {
		t.Fatal("CgroupsEnabled without a memory controller")
	}
	for _, key := range []string{"w1", "w2"} {
		if res := run(t, p, node(key, pidAction), ""); res.StatusCode != 0 {
			t.Errorf("status %d: %s", res.StatusCode, res.Result)
		}
	}
	out := logs.String()
	want := `level=WARN msg="cgroups unavailable: no cgroup memory controller mounted; actions run without memory/cpu limits"`
	if strings.Count(out, "level=WARN") != 1 || !strings.Contains(out, want) {
		t.Errorf("log:\n%s\nwant exactly one %s", out, want)
	}
}

func TestResultSizes(t *testing.T) {
	t.Parallel()
	o, _ := testOptions(t)
	p := newTestPool(t, o)
	big := strings.Repeat("x", 300<<10) // larger than a pipe buffer
	params, _ := json.Marshal(map[string]string{"s": big})
	res := run(t, p, node("large-params", `function main(p) { return {n: p.s.length}; }`), string(params))
	if res.StatusCode != 0 || resultField[int](t, res, "n") != len(big) {
		t.Errorf("large params: status %d result %.100s", res.StatusCode, res.Result)
	}
	res = run(t, p, node("large-result", `function main() { return {s: 'y'.repeat(2 * 1024 * 1024)}; }`), "")
	msg := resultField[string](t, res, "error")
	if res.StatusCode != StatusApplicationError || !strings.HasPrefix(msg, "The action produced a response that exceeded the allowed length: ") {
		t.Errorf("large result: status %d error %.150s", res.StatusCode, msg)
	}
	if len(res.Result) > 2*maxResultBytes {
		t.Errorf("truncated result is %d bytes", len(res.Result))
	}
}

func TestCanceledRunKillsWorker(t *testing.T) {
	t.Parallel()
	o, _ := testOptions(t)
	p := newTestPool(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := p.Run(ctx, node("cancel", `function main() { return new Promise(() => {}); }`), nil)
		done <- err
	}()
	eventually(t, "the run to start", func() bool { return len(p.workerPIDs(true)) == 1 })
	pid := p.workerPIDs(true)[0]
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if alive(pid) {
		t.Errorf("worker %d survived the canceled run", pid)
	}
	if n, _, used, _ := p.snapshot(); n != 0 || used != 0 {
		t.Errorf("pool holds %d workers, %d MB", n, used)
	}
}

func TestWorkerDyingAfterRunIsNotReused(t *testing.T) {
	t.Parallel()
	o, _ := testOptions(t)
	p := newTestPool(t, o)
	a := node("late-crash", `function main(p) { if (p.crash) setTimeout(() => process.exit(1), 0); return {pid: process.pid}; }`)
	pid := resultField[int](t, run(t, p, a, `{"crash":true}`), "pid")
	eventually(t, "the crashed worker to leave the pool", func() bool { n, _, _, _ := p.snapshot(); return n == 0 && !alive(pid) })
	if res := run(t, p, a, ""); res.StatusCode != 0 || res.InitTime <= 0 {
		t.Errorf("next run: status %d init %v", res.StatusCode, res.InitTime)
	}
}
