package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fnmgr/fnmgr/deploy/local/stack"
)

// stackProc is one bin/localstack run.
type stackProc struct {
	cmd     *exec.Cmd
	env     *Env
	dir     string
	logPath string
	done    chan struct{}
	err     error // Wait's result, readable after done
}

// portVars are set to 0 so every part picks a free port; the others are
// the localstack settings a developer's environment must not leak in.
var portVars = []string{"OW_APIHOST_PORT", "FNMGR_GATEWAY_PORT", "FNMGR_ADMIN_PORT", "COUCHDB_PORT", "KAFKA_PORT"}

var droppedVars = []string{"LOCAL_DIR", "FNMGR_BIN", "FNMGR_ADMIN_TOKEN", "OW_CONTROLLERS", "OW_INVOKERS"}

// launch starts localstack on dir and waits (at most StartTimeout) for its
// endpoints.json.
func launch(ctx context.Context, bins binaries, dir string) (*stackProc, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "localstack.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bins.localstack, "--fnmgr-bin", bins.fnmgr)
	cmd.Env = childEnv(dir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own group, so that a runaway stack can be killed whole; SIGTERM
	// should the test binary die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", bins.localstack, err)
	}
	s := &stackProc{cmd: cmd, dir: dir, logPath: logPath, done: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	if s.env, err = s.waitEndpoints(ctx); err != nil {
		_ = s.kill()
		return nil, fmt.Errorf("local stack did not start: %w\n%s", err, s.logTail())
	}
	s.env.Dir = dir
	return s, nil
}

func childEnv(dir string) []string {
	drop := map[string]bool{}
	for _, k := range append(append([]string{}, portVars...), droppedVars...) {
		drop[k] = true
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			env = append(env, kv)
		}
	}
	env = append(env, "LOCAL_DIR="+dir)
	for _, k := range portVars {
		env = append(env, k+"=0")
	}
	return env
}

func (s *stackProc) waitEndpoints(ctx context.Context) (*Env, error) {
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	path := filepath.Join(s.dir, stack.EndpointsFile)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if e, err := readEndpoints(path); err == nil {
			return e, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("localstack exited (%v) before writing %s", s.err, path)
		case <-ctx.Done():
			return nil, fmt.Errorf("no %s after %s", path, StartTimeout)
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM, waits for localstack to exit, then checks that every
// process it ran is gone, its cgroups removed and endpoints.json deleted.
func (s *stackProc) stop() error {
	procs := descendants(s.cmd.Process.Pid)
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	var errs []error
	select {
	case <-s.done:
		if s.err != nil {
			errs = append(errs, fmt.Errorf("localstack exited with %v", s.err))
		}
	case <-time.After(StopTimeout):
		errs = append(errs, fmt.Errorf("localstack did not exit within %s of SIGTERM; killed", StopTimeout))
		_ = s.kill()
	}
	for _, p := range procs {
		if p.alive() {
			errs = append(errs, fmt.Errorf("process %d (%s) outlived the stack; killed", p.pid, p.comm))
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
	if left := cgroupsLeft(stack.CgroupPrefix(s.dir)); len(left) > 0 {
		errs = append(errs, fmt.Errorf("cgroups left behind: %s", strings.Join(left, ", ")))
	}
	if _, err := os.Stat(filepath.Join(s.dir, stack.EndpointsFile)); err == nil {
		errs = append(errs, errors.New("endpoints.json was not removed on shutdown"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("stopping the local stack: %w\n%s", errors.Join(errs...), s.logTail())
	}
	return nil
}

// kill kills localstack's group and every process it started.
func (s *stackProc) kill() error {
	procs := descendants(s.cmd.Process.Pid)
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	for _, p := range procs {
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
	<-s.done
	return nil
}

// logTail returns the end of localstack's output.
func (s *stackProc) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return "--- end of " + s.logPath + " ---\n" + strings.Join(lines, "\n")
}

// proc identifies a process across PID reuse by its start time.
type proc struct {
	pid   int
	comm  string
	start string
}

// alive reports whether the same process still runs (zombies count as gone).
func (p proc) alive() bool {
	st, ok := readStat(p.pid)
	return ok && st.start == p.start && st.state != "Z"
}

type stat struct {
	ppid        int
	comm, state string
	start       string
}

// readStat parses /proc/<pid>/stat: "pid (comm) state ppid … starttime(22) …".
func readStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	s := string(b)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return stat{}, false
	}
	f := strings.Fields(s[close+1:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return stat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return stat{ppid: ppid, comm: s[open+1 : close], state: f[0], start: f[19]}, true
}

// descendants lists every process below root, found through /proc.
func descendants(root int) []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	stats := map[int]stat{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok {
			children[st.ppid] = append(children[st.ppid], pid)
			stats[pid] = st
		}
	}
	var out []proc
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			out = append(out, proc{pid: c, comm: stats[c].comm, start: stats[c].start})
			queue = append(queue, c)
		}
	}
	return out
}

// cgroupsLeft lists cgroups whose name starts with prefix under any cgroup
// mount.
func cgroupsLeft(prefix string) []string {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return nil
	}
	defer f.Close()
	var left []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || (fields[2] != "cgroup" && fields[2] != "cgroup2") {
			continue
		}
		m, _ := filepath.Glob(filepath.Join(fields[1], prefix+"*"))
		left = append(left, m...)
	}
	return left
}
