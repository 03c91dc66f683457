// Package loadkit holds what fnmgr's load programs (tests/load/*) share:
// the local stack started in the program's process, the description of
// the machine, and quantiles.
package loadkit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/fnmgr/fnmgr/deploy/local/stack"
)

// Stack is a local stack a load program started, in a temporary
// directory on free loopback ports.
type Stack struct {
	*stack.Stack
	Dir string // its LOCAL_DIR's parent, with stack.log
	log *os.File
}

// StartStack starts the local stack with fnmgrBin (fnmgr beside this
// executable when empty); name prefixes the temporary directory. mod, when
// set, changes the options.
func StartStack(ctx context.Context, name, fnmgrBin string, mod func(*stack.Options)) (*Stack, error) {
	dir, err := os.MkdirTemp("", name+"-")
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "stack.log"))
	if err != nil {
		return nil, err
	}
	o := stack.Options{Dir: filepath.Join(dir, "local"), FnmgrBin: fnmgrBin, Console: io.Discard,
		Logger: slog.New(slog.NewTextHandler(logf, nil))}
	if mod != nil {
		mod(&o)
	}
	st, err := stack.New(o)
	if err == nil {
		err = st.Start(ctx)
	}
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("start the local stack (log in %s): %w", logf.Name(), err)
	}
	return &Stack{Stack: st, Dir: dir, log: logf}, nil
}

// Stop stops the stack and removes its directory.
func (s *Stack) Stop(ctx context.Context) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := s.Stack.Stop(sctx); err != nil {
		fmt.Fprintln(os.Stderr, "stop the local stack:", err)
	}
	s.log.Close()
	if os.Getenv("LOADKIT_KEEP") == "" {
		_ = os.RemoveAll(s.Dir)
	}
}

// Machine describes where the numbers come from.
func Machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = ", load average " + strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return fmt.Sprintf("%s, %d CPUs (GOMAXPROCS %d), %s/%s, %s%s", model, runtime.NumCPU(), runtime.GOMAXPROCS(0),
		runtime.GOOS, runtime.GOARCH, runtime.Version(), load)
}

// Quantile returns the q-quantile (0..1) of ds, nearest rank; 0 for none.
func Quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// Ms formats d in milliseconds with two decimals.
func Ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// ProcStatus returns the kB value of field (VmHWM, VmRSS) in
// /proc/<pid>/status, or 0.
func ProcStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == field {
			var kb int64
			_, _ = fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb
		}
	}
	return 0
}
