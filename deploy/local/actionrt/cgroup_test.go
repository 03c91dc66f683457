package actionrt

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func needCgroups(t *testing.T, p *Pool) {
	t.Helper()
	if !p.CgroupsEnabled() {
		// #16 item 8: CI must run the cgroup tests, never skip them.
		if os.Getenv("CI") != "" {
			t.Fatal("cgroups are unavailable, but CI is set: CI must run the cgroup tests (run as root with the cgroup memory and cpu controllers mounted)")
		}
		t.Skip("cgroups unavailable here")
	}
}

func TestParseMounts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, data string
		want       mountPoints
	}{
		{"hybrid v1", `tmpfs /sys/fs/cgroup tmpfs rw 0 0
cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0`, mountPoints{v1Memory: "/sys/fs/cgroup/memory", v1CPU: "/sys/fs/cgroup/cpu,cpuacct", unified: "/sys/fs/cgroup/unified"}},
		{"pure v2", `cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0`, mountPoints{unified: "/sys/fs/cgroup"}},
		{"cpuacct is not cpu", `cgroup /a cgroup rw,cpuacct 0 0`, mountPoints{}},
		{"none", `proc /proc proc rw 0 0`, mountPoints{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseMounts(tc.data); got != tc.want {
				t.Errorf("parseMounts = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestCgroupLimits checks the files a worker's cgroup gets: memory
// without swap, and the proportional CPU quota once the proxy is up.
func TestCgroupLimits(t *testing.T) {
	t.Parallel()
	o, _ := testOptions(t)
	o.UserMemoryMB, o.UserCPUs = 2048, 1
	p := newTestPool(t, o)
	needCgroups(t, p)
	a := node("limits", pidAction)
	a.MemoryMB = 512
	pid := resultField[int](t, run(t, p, a, ""), "pid")
	var g *cgroup
	p.mu.Lock()
	for w := range p.workers {
		if w.pid() == pid {
			g = w.cg
		}
	}
	p.mu.Unlock()
	if g == nil {
		t.Fatal("worker or its cgroup not found")
	}
	procs := readPIDs(filepath.Join(g.mem, "cgroup.procs"))
	if len(procs) == 0 || procs[0] != pid {
		t.Errorf("cgroup.procs = %v, want %d", procs, pid)
	}
	want := map[string]string{}
	if g.v2 {
		want[filepath.Join(g.mem, "memory.max")] = "536870912"
		want[filepath.Join(g.cpu, "cpu.max")] = "25000 100000"
	} else {
		want[filepath.Join(g.mem, "memory.limit_in_bytes")] = "536870912"
		if _, err := os.Stat(filepath.Join(g.mem, "memory.memsw.limit_in_bytes")); err == nil {
			want[filepath.Join(g.mem, "memory.memsw.limit_in_bytes")] = "536870912"
		}
		if g.cpu != "" {
			want[filepath.Join(g.cpu, "cpu.cfs_quota_us")] = "25000"
			want[filepath.Join(g.cpu, "cpu.cfs_period_us")] = "100000"
		}
	}
	for path, v := range want {
		data, err := os.ReadFile(path)
		if err != nil || strings.TrimSpace(string(data)) != v {
			t.Errorf("%s = %q (%v), want %s", path, data, err, v)
		}
	}
}

func TestOOM(t *testing.T) {
	t.Parallel()
	o, _ := testOptions(t)
	p := newTestPool(t, o)
	needCgroups(t, p)
	code := `function main() { const b = Buffer.alloc(300 * 1024 * 1024, 1); return {len: b.length}; }`
	cases := []struct {
		name     string
		memoryMB int
		oom      bool
	}{
		{"256 MB is too little", 256, true},
		{"512 MB is enough", 512, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := node("oom-"+strconv.Itoa(tc.memoryMB), code)
			a.MemoryMB = tc.memoryMB
			res := run(t, p, a, "")
			if !tc.oom {
				if res.StatusCode != 0 || res.OOM || resultField[int](t, res, "len") != 300<<20 {
					t.Fatalf("status %d oom %v result %s logs %q", res.StatusCode, res.OOM, res.Result, res.Logs)
				}
				return
			}
			if res.StatusCode != StatusDeveloperError || !res.OOM || resultField[string](t, res, "error") != msgOOM {
				t.Fatalf("status %d oom %v result %s", res.StatusCode, res.OOM, res.Result)
			}
			if last := res.Logs[len(res.Logs)-1]; !strings.HasSuffix(last, "stderr: "+msgLogsMissing) {
				t.Errorf("last log line %q", last)
			}
		})
	}
}

// TestCPUQuota: with UserCPUs=1 over 2048 MB a 512 MB worker gets 0.25
// CPU and a 128 MB one 0.0625, so the same loop runs ~4x slower at 128.
// Not parallel, to keep other tests' load out of the timing.
func TestCPUQuota(t *testing.T) {
	o, _ := testOptions(t)
	o.UserMemoryMB, o.UserCPUs = 2048, 1
	p := newTestPool(t, o)
	needCgroups(t, p)
	code := `function main() { let x = 0; for (let i = 0; i < 30e6; i++) { x += i % 7; } return {x}; }`
	durations := map[int]time.Duration{}
	for _, mem := range []int{512, 128} {
		a := node("cpu-"+strconv.Itoa(mem), code)
		a.MemoryMB = mem
		run(t, p, a, "") // cold start; time the warm run
		res := run(t, p, a, "")
		if res.StatusCode != 0 {
			t.Fatalf("status %d: %s", res.StatusCode, res.Result)
		}
		durations[mem] = res.End.Sub(res.Start)
	}
	t.Logf("512 MB: %v, 128 MB: %v", durations[512], durations[128])
	if durations[128] < durations[512]*3/2 {
		t.Errorf("128 MB run (%v) not clearly slower than 512 MB run (%v)", durations[128], durations[512])
	}
}

// TestStaleCgroupsRemoved: New kills the tasks of child cgroups a
// crashed run left under CgroupName and removes them.
func TestStaleCgroupsRemoved(t *testing.T) {
	t.Parallel()
	o, _ := testOptions(t)
	first := newTestPool(t, o)
	needCgroups(t, first)
	var stale []string
	for _, parent := range first.cg.parents() {
		dir := filepath.Join(parent, "w7")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		stale = append(stale, dir)
	}
	cmd := exec.Command("sleep", "300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	for _, dir := range stale {
		if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(cmd.Process.Pid)); err != nil {
			t.Fatal(err)
		}
	}

	second := newTestPool(t, o) // same CgroupName: the "restarted" sidecar
	needCgroups(t, second)
	err := <-exited
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("stale task: wait = %v, want killed", err)
	}
	for _, dir := range stale {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale cgroup %s still there (%v)", dir, err)
		}
	}
	if res := run(t, second, node("after-sweep", pidAction), ""); res.StatusCode != 0 {
		t.Errorf("status %d: %s", res.StatusCode, res.Result)
	}
}

// TestCPUSharesFor checks OpenWhisk's --cpu-shares formula
// (ContainerFactory.scala cpuShare) and its cgroup v2 conversion.
func TestCPUSharesFor(t *testing.T) {
	t.Parallel()
	cases := []struct {
		userMB, memMB, shares, weight int
	}{
		{2048, 128, 64, 3},
		{2048, 256, 128, 5},
		{2048, 512, 256, 10},
		{2048, 2048, 1024, 39},
		{2048, 300, 170, 0}, // 2048/300 = 6 (integer), 1024/6 = 170
		{65536, 128, 2, 0},  // floor of 2
	}
	for _, tc := range cases {
		p := &Pool{opts: Options{CPUShares: true, UserCPUs: 2, UserMemoryMB: tc.userMB}}
		got := p.cpusFor(tc.memMB)
		if got != (cpuLimit{shares: tc.shares}) {
			t.Errorf("cpusFor(%d) of %d MB = %+v, want %d shares", tc.memMB, tc.userMB, got, tc.shares)
		}
		if tc.weight != 0 {
			if w := sharesToWeight(got.shares); w != tc.weight {
				t.Errorf("sharesToWeight(%d) = %d, want %d", got.shares, w, tc.weight)
			}
		}
	}
}

func TestCPUsFor(t *testing.T) {
	t.Parallel()
	cases := []struct {
		userCPUs float64
		userMB   int
		memMB    int
		want     float64
	}{
		{1, 2048, 512, 0.25},
		{1, 2048, 128, 0.0625},
		{4, 2048, 256, 0.5},
		{0.01, 2048, 128, 0.01}, // floor
	}
	for _, tc := range cases {
		p := &Pool{opts: Options{UserCPUs: tc.userCPUs, UserMemoryMB: tc.userMB}}
		if got := p.cpusFor(tc.memMB); got != (cpuLimit{cpus: tc.want}) {
			t.Errorf("cpusFor(%d) with %v CPUs / %d MB = %v, want %v", tc.memMB, tc.userCPUs, tc.userMB, got, tc.want)
		}
	}
}
