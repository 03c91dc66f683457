package actionrt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	cfsPeriodUS   = 100000           // cpu.cfs_period_us / cpu.max period, like Docker's default
	minCFSQuotaUS = 1000             // the kernel refuses quotas below 1 ms
	rmdirPatience = 10 * time.Second // a killed task of a loaded host may take seconds to exit
)

// cgroups is the detected cgroup layout: the parent cgroup named
// Options.CgroupName under each controller we use. With v1 the memory
// and cpu controllers are separate hierarchies; with v2 both are the
// same directory.
type cgroups struct {
	v2  bool
	mem string // parent dir holding the memory controller
	cpu string // parent dir holding the cpu controller; "" when the cpu controller is unavailable
}

// mountPoints lists cgroup mounts from /proc/self/mounts content.
type mountPoints struct {
	v1Memory, v1CPU, unified string
}

func parseMounts(data string) mountPoints {
	var m mountPoints
	for _, line := range strings.Split(data, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		dir, fstype, opts := f[1], f[2], strings.Split(f[3], ",")
		switch fstype {
		case "cgroup2":
			if m.unified == "" {
				m.unified = dir
			}
		case "cgroup":
			for _, o := range opts {
				switch {
				case o == "memory" && m.v1Memory == "":
					m.v1Memory = dir
				case o == "cpu" && m.v1CPU == "":
					m.v1CPU = dir
				}
			}
		}
	}
	return m
}

// detectCgroups finds usable controllers, removes stale children left
// under name by an earlier run, and proves that a child with a memory
// limit can be made. The v1 memory controller is preferred (hybrid
// hosts mount v2 without controllers); v2 is used when it carries the
// memory controller.
func detectCgroups(name, mountsFile string) (*cgroups, error) {
	if name == "" || strings.ContainsAny(name, "\x00") || !filepath.IsLocal(name) {
		return nil, fmt.Errorf("invalid cgroup name %q", name)
	}
	data, err := os.ReadFile(mountsFile)
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	m := parseMounts(string(data))
	var cg cgroups
	switch {
	case m.v1Memory != "":
		cg.mem = filepath.Join(m.v1Memory, name)
		if m.v1CPU != "" {
			cg.cpu = filepath.Join(m.v1CPU, name)
		}
	case m.unified != "":
		ctrl, err := os.ReadFile(filepath.Join(m.unified, "cgroup.controllers"))
		if err != nil {
			return nil, fmt.Errorf("read cgroup2 controllers: %w", err)
		}
		have := strings.Fields(string(ctrl))
		if !contains(have, "memory") {
			return nil, errors.New("cgroup2 is mounted without the memory controller")
		}
		cg.v2 = true
		cg.mem = filepath.Join(m.unified, name)
		if contains(have, "cpu") {
			cg.cpu = cg.mem
		}
	default:
		return nil, errors.New("no cgroup memory controller mounted")
	}
	for _, dir := range cg.parents() {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create parent cgroup: %w", err)
		}
		sweepChildren(context.Background(), dir, cg.v2)
	}
	if cg.v2 {
		ctl := "+memory"
		if cg.cpu != "" {
			ctl += " +cpu"
		}
		// The parent can only delegate what the root enables for it. The
		// parent itself never holds processes, so it may delegate.
		_ = writeFile(filepath.Join(m.unified, "cgroup.subtree_control"), ctl)
		if err := writeFile(filepath.Join(cg.mem, "cgroup.subtree_control"), ctl); err != nil {
			return nil, fmt.Errorf("enable controllers: %w", err)
		}
	}
	probe, err := cg.newChild(fmt.Sprintf("probe%d", os.Getpid()), 64)
	if err != nil {
		_ = cg.removeParents(context.Background())
		return nil, err
	}
	if err := probe.remove(); err != nil {
		return nil, err
	}
	return &cg, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (c *cgroups) parents() []string {
	if c.cpu == "" || c.cpu == c.mem {
		return []string{c.mem}
	}
	return []string{c.mem, c.cpu}
}

// removeParents sweeps whatever children remain and removes the
// parent cgroups themselves, until ctx ends.
func (c *cgroups) removeParents(ctx context.Context) error {
	var errs []error
	for _, dir := range c.parents() {
		sweepChildren(ctx, dir, c.v2)
		if err := rmdirWait(ctx, dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cgroup is one worker's cgroup.
type cgroup struct {
	v2       bool
	mem, cpu string // child dirs; cpu may be "" or equal to mem (v2)
	limit    int64
}

// newChild creates the child cgroup name with a memory limit of
// memMB MiB and no swap.
func (c *cgroups) newChild(name string, memMB int) (*cgroup, error) {
	g := &cgroup{v2: c.v2, mem: filepath.Join(c.mem, name), limit: int64(memMB) << 20}
	if c.cpu != "" {
		g.cpu = filepath.Join(c.cpu, name)
	}
	for _, dir := range g.dirs() {
		if err := os.Mkdir(dir, 0o755); err != nil {
			_ = g.remove()
			return nil, fmt.Errorf("create cgroup: %w", err)
		}
	}
	limit := strconv.FormatInt(g.limit, 10)
	var err error
	if g.v2 {
		err = writeFile(filepath.Join(g.mem, "memory.max"), limit)
		if err == nil {
			err = writeOptional(filepath.Join(g.mem, "memory.swap.max"), "0")
		}
	} else {
		// The memsw limit must not be below memory.limit_in_bytes, so set
		// the memory limit first; both equal means no swap (docker --memory-swap).
		err = writeFile(filepath.Join(g.mem, "memory.limit_in_bytes"), limit)
		if err == nil {
			err = writeOptional(filepath.Join(g.mem, "memory.memsw.limit_in_bytes"), limit)
		}
	}
	if err != nil {
		_ = g.remove()
		return nil, fmt.Errorf("set memory limit: %w", err)
	}
	return g, nil
}

func (g *cgroup) dirs() []string {
	if g.cpu == "" || g.cpu == g.mem {
		return []string{g.mem}
	}
	return []string{g.mem, g.cpu}
}

// addProc moves the process (all its threads) into the cgroup.
func (g *cgroup) addProc(pid int) error {
	for _, dir := range g.dirs() {
		if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("add process to cgroup: %w", err)
		}
	}
	return nil
}

// cpuLimit is a worker's CPU limit: shares (when > 0) or a quota of cpus.
type cpuLimit struct {
	cpus   float64
	shares int
}

// setCPU applies l: cgroup v1 cpu.shares (v2 cpu.weight, converted as runc
// does) without a quota, or a CFS bandwidth quota of l.cpus CPUs.
func (g *cgroup) setCPU(l cpuLimit) error {
	if g.cpu == "" {
		return nil
	}
	if l.shares > 0 {
		var err error
		if g.v2 {
			err = writeFile(filepath.Join(g.cpu, "cpu.weight"), strconv.Itoa(sharesToWeight(l.shares)))
		} else {
			err = writeFile(filepath.Join(g.cpu, "cpu.shares"), strconv.Itoa(l.shares))
		}
		if err != nil {
			return fmt.Errorf("set cpu shares: %w", err)
		}
		return nil
	}
	cpus := l.cpus
	quota := max(int64(math.Round(cpus*cfsPeriodUS)), minCFSQuotaUS)
	var err error
	if g.v2 {
		err = writeFile(filepath.Join(g.cpu, "cpu.max"), fmt.Sprintf("%d %d", quota, cfsPeriodUS))
	} else {
		err = writeFile(filepath.Join(g.cpu, "cpu.cfs_period_us"), strconv.Itoa(cfsPeriodUS))
		if err == nil {
			err = writeFile(filepath.Join(g.cpu, "cpu.cfs_quota_us"), strconv.FormatInt(quota, 10))
		}
	}
	if err != nil {
		return fmt.Errorf("set cpu quota: %w", err)
	}
	return nil
}

// sharesToWeight converts cgroup v1 cpu.shares [2, 262144] to v2
// cpu.weight [1, 10000], as runc and crun do.
func sharesToWeight(shares int) int {
	shares = min(max(shares, 2), 262144)
	return 1 + ((shares-2)*9999)/262142
}

// oomKilled reports whether the kernel OOM-killed a task of the cgroup.
func (g *cgroup) oomKilled() bool {
	if g.v2 {
		n, ok := readKeyed(filepath.Join(g.mem, "memory.events"), "oom_kill")
		return ok && n > 0
	}
	if n, ok := readKeyed(filepath.Join(g.mem, "memory.oom_control"), "oom_kill"); ok {
		return n > 0
	}
	// Kernels before 4.13 have no oom_kill counter: fall back to the usage peak.
	fail, _ := readInt(filepath.Join(g.mem, "memory.failcnt"))
	peak, _ := readInt(filepath.Join(g.mem, "memory.max_usage_in_bytes"))
	return fail > 0 && peak >= g.limit
}

// killAll SIGKILLs every task in the cgroup, including any that left
// the worker's process group.
func (g *cgroup) killAll() { killTasks(g.mem, g.v2) }

// remove kills what is left and removes the cgroup directories (bounded
// by rmdirPatience: a worker's teardown has no context of its own).
func (g *cgroup) remove() error {
	var errs []error
	for _, dir := range g.dirs() {
		killTasks(dir, g.v2)
		if err := rmdirWait(context.Background(), dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sweepChildren removes every child cgroup under dir, depth first,
// killing their tasks first. Used for stale cgroups of a crashed run.
func sweepChildren(ctx context.Context, dir string, v2 bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		child := filepath.Join(dir, e.Name())
		sweepChildren(ctx, child, v2)
		killTasks(child, v2)
		_ = rmdirWait(ctx, child)
	}
}

func killTasks(dir string, v2 bool) {
	if v2 && writeFile(filepath.Join(dir, "cgroup.kill"), "1") == nil {
		return
	}
	for range 3 {
		pids := readPIDs(filepath.Join(dir, "cgroup.procs"))
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// rmdirWait removes a cgroup dir, retrying while killed tasks are
// still exiting (EBUSY), for at most rmdirPatience or until ctx ends. The
// kernel offers nothing to wait on for that in v1 (cgroup.events, which v2
// has, says only whether tasks remain, not when rmdir will succeed), so it
// polls.
func rmdirWait(ctx context.Context, dir string) error {
	ctx, cancel := context.WithTimeout(ctx, rmdirPatience)
	defer cancel()
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for {
		err := os.Remove(dir)
		switch {
		case err == nil, errors.Is(err, os.ErrNotExist):
			return nil
		case errors.Is(err, syscall.EBUSY) && ctx.Err() == nil:
			killTasks(dir, false)
			select {
			case <-ctx.Done():
			case <-poll.C:
			}
		default:
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
	}
}

func writeFile(path, value string) error {
	// cgroup files must not be created or truncated: open them write-only.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writeOptional writes a file that only some kernels have (memsw, swap.max).
func writeOptional(path, value string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return writeFile(path, value)
}

func readPIDs(path string) []int {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

func readInt(path string) (int64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	return n, err == nil
}

// readKeyed reads "key value" lines (memory.events, memory.oom_control).
func readKeyed(path, key string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
