package stackenv

import (
	"bufio"
	"context"
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

// portVars are set to 0 so every part picks a free port; the others are
// the localstack settings a developer's environment must not leak in.
var portVars = []string{"OW_APIHOST_PORT", "FNMGR_GATEWAY_PORT", "FNMGR_ADMIN_PORT", "COUCHDB_PORT", "KAFKA_PORT"}

var droppedVars = []string{"LOCAL_DIR", "FNMGR_BIN", "FNMGR_ADMIN_TOKEN", "OW_CONTROLLERS", "OW_INVOKERS"}

// startProcess runs bin/localstack on e.Dir, its output in e.StackLog,
// and waits for its endpoints.json.
func (e *Env) startProcess(ctx context.Context, bins binaries) error {
	logFile, err := os.Create(e.StackLog)
	if err != nil {
		return err
	}
	cmd := exec.Command(bins.localstack, "--fnmgr-bin", bins.fnmgr)
	cmd.Env = childEnv(e.Dir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own group, so that a runaway stack can be killed whole; SIGTERM
	// should this process die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", bins.localstack, err)
	}
	done := make(chan struct{})
	var waitErr error // Wait's result, readable after done
	go func() {
		waitErr = cmd.Wait()
		logFile.Close()
		close(done)
	}()
	kill := func() {
		procs := descendants(cmd.Process.Pid)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		for _, p := range procs {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
		<-done
	}
	path := filepath.Join(e.Dir, stack.EndpointsFile)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ep, err := ReadEndpoints(path)
		if err == nil {
			e.EP = ep
			break
		}
		select {
		case <-done:
			return fmt.Errorf("localstack exited (%v) before writing %s", waitErr, path)
		case <-ctx.Done():
			kill()
			return fmt.Errorf("no %s: %w", path, context.Cause(ctx))
		case <-tick.C:
		}
	}
	e.pid = cmd.Process.Pid
	// halt sends SIGTERM and waits for localstack to exit.
	e.halt = func(ctx context.Context) error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
			if waitErr != nil {
				return fmt.Errorf("localstack exited with %w", waitErr)
			}
			return nil
		case <-ctx.Done():
			kill()
			return fmt.Errorf("localstack did not exit within %s of SIGTERM; killed", StopTimeout)
		}
	}
	return nil
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
