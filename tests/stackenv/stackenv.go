// Package stackenv runs fnmgr's local stack for every integration test
// and every load program, and gives them the clients a user has:
// OpenWhisk's API through openwhisk-client-go, the admin API, CouchDB,
// fnmgr's metrics.
//
// A stack runs one of two ways, both in a temporary directory (its
// LOCAL_DIR) on free loopback ports:
//
//   - in this process (deploy/local/stack), the default: tests can kill and
//     restart its parts (fnmgr, CouchDB, the Kafka broker, a controller)
//     through Env.Stack, and Options.Modify sets what the stack runs
//     (replicas, controllers, invoker memory);
//   - as a child process (Options.Process): bin/localstack with bin/fnmgr,
//     as `make run` runs it, configured by this process's environment
//     (OW_PROFILE, KAFKA_TOPIC_PREFIX…) and stopped with SIGTERM.
//
// Either way, Stop checks that every process the stack ran is gone and no
// cgroup of its invokers is left, and $STACKENV_KEEP_LOGS names a
// directory that keeps its logs.
//
// A test package shares one stack across its tests, since startup costs
// seconds:
//
//	var env *stackenv.Env
//	func TestMain(m *testing.M) { os.Exit(stackenv.Run(m, stackenv.Options{}, &env)) }
//	func TestX(t *testing.T)    { e := stackenv.Need(t, env); … }
//
// A test that needs a stack of its own calls Start(t, o), stopped in
// t.Cleanup. Where the stack cannot run (-short, or no pouchdb-server
// outside CI) env stays nil, and Need and Start skip the test.
//
// A load program (tests/load/*) calls Launch and Stop itself, and prints
// Machine and Quantile with its numbers.
//
// The executables come from $FNMGR_TEST_BIN_DIR, else from beside the
// running executable (a load program in bin/), else from the repository's
// bin/, else they are built with `go build` into the stack's directory.
// bin/ is not rebuilt: run `make build` (which `make test` does) after
// changing the code.
package stackenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fnmgr/fnmgr/deploy/local/stack"
	"github.com/fnmgr/fnmgr/plugin/config"
)

// Timeouts of a stack.
const (
	// StartTimeout bounds a stack's start when the caller's context has no
	// deadline.
	StartTimeout = 2 * time.Minute
	// StopTimeout bounds a stack's stop.
	StopTimeout = time.Minute
)

// KeepLogsEnv names a directory that Stop copies the stack's logs into
// (stack.log and every *.log of its LOCAL_DIR, fnmgr.log among them)
// before it removes the stack's directory.
const KeepLogsEnv = "STACKENV_KEEP_LOGS"

// Options configure a stack.
type Options struct {
	// Process runs bin/localstack as a child process instead of the stack
	// in this process.
	Process bool
	// Debug logs the stack and fnmgr at debug level (what a secrets test
	// wants to see); info level otherwise. fnmgr gets it through this
	// process's environment.
	Debug bool
	// Modify changes the in-process stack's options before it starts; a
	// child-process stack takes its settings from the environment instead.
	Modify func(*stack.Options)
	// FnmgrBin is the fnmgr executable; found (or built) as the package
	// says when empty.
	FnmgrBin string
}

// Env is a running stack.
type Env struct {
	// EP is what endpoints.json said once the stack was ready
	// (Stack.Endpoints() follows fnmgr replicas the stack restarts).
	EP stack.Endpoints
	// Stack is the stack in this process; nil with Options.Process.
	Stack *stack.Stack
	// Dir is the stack's LOCAL_DIR; StackLog the stack's own log (every
	// part but fnmgr; localstack's output with Options.Process); FnmgrLog
	// fnmgr's output (with several replicas, each writes fnmgr-<i>.log in
	// Dir instead).
	Dir, StackLog, FnmgrLog string
	// FnmgrBin is the fnmgr executable the stack runs, for tests that run
	// one more fnmgr of their own.
	FnmgrBin string
	// HTTP bounds every call the helpers make.
	HTTP *http.Client

	root string // the temporary directory: Dir, StackLog, built binaries
	// halt stops the stack's processes; pid is the process whose
	// descendants the stack's processes are.
	halt func(context.Context) error
	pid  int
}

// Launch starts a stack and returns once it is ready (its endpoints.json
// written); the caller stops it with Stop.
func Launch(ctx context.Context, o Options) (*Env, error) {
	if o.Process && o.Modify != nil {
		return nil, errors.New("stackenv: Options.Modify changes the in-process stack only; a child-process stack takes its settings from the environment")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, StartTimeout)
		defer cancel()
	}
	root, err := os.MkdirTemp("", "fnmgr-stack-")
	if err != nil {
		return nil, fmt.Errorf("stackenv: %w", err)
	}
	e := &Env{root: root, Dir: filepath.Join(root, "local"), StackLog: filepath.Join(root, "stack.log"),
		HTTP: &http.Client{Timeout: 30 * time.Second}}
	e.FnmgrLog = filepath.Join(e.Dir, stack.FnmgrLogFile)
	if err := e.start(ctx, o); err != nil {
		err = fmt.Errorf("stackenv: start the local stack: %w\n%s", err, e.LogTails())
		e.keepLogs()
		_ = os.RemoveAll(root)
		return nil, err
	}
	return e, nil
}

func (e *Env) start(ctx context.Context, o Options) error {
	bins, err := o.binaries(filepath.Join(e.root, "bin"))
	if err != nil {
		return err
	}
	e.FnmgrBin = bins.fnmgr
	if o.Debug {
		// fnmgr (and a child localstack) inherit this process's environment.
		if err := os.Setenv(config.EnvLogLevel, "debug"); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(e.Dir, 0o755); err != nil {
		return err
	}
	if o.Process {
		return e.startProcess(ctx, bins)
	}
	return e.startInProcess(ctx, bins.fnmgr, o)
}

// Stop stops the stack, then checks that every process it ran is gone,
// its cgroups removed and its endpoints.json deleted; it copies the logs
// to $STACKENV_KEEP_LOGS when set and removes the stack's directory. The
// error carries the end of the logs.
func (e *Env) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), StopTimeout)
	defer cancel()
	// Other in-process stacks of this process are its descendants too:
	// with more than one running, which process is whose is unknown.
	var procs []proc
	if e.Stack == nil || inProcess.Load() == 1 {
		procs = descendants(e.pid)
	}
	var errs []error
	if err := e.halt(ctx); err != nil {
		errs = append(errs, err)
	}
	for _, p := range procs {
		if p.alive() {
			errs = append(errs, fmt.Errorf("process %d (%s) outlived the stack; killed", p.pid, p.comm))
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
	if left := cgroupsLeft(stack.CgroupPrefix(e.Dir)); len(left) > 0 {
		errs = append(errs, fmt.Errorf("cgroups left behind: %s", strings.Join(left, ", ")))
	}
	if _, err := os.Stat(filepath.Join(e.Dir, stack.EndpointsFile)); err == nil {
		errs = append(errs, errors.New("endpoints.json was not removed on shutdown"))
	}
	var err error
	if len(errs) > 0 {
		err = fmt.Errorf("stackenv: stopping the local stack: %w\n%s", errors.Join(errs...), e.LogTails())
	}
	e.keepLogs()
	if rmErr := os.RemoveAll(e.root); rmErr != nil && err == nil {
		err = fmt.Errorf("stackenv: remove %s: %w", e.root, rmErr)
	}
	return err
}

// logs lists the stack's log files: its own, then LOCAL_DIR's.
func (e *Env) logs() []string {
	logs, _ := filepath.Glob(filepath.Join(e.Dir, "*.log"))
	return append([]string{e.StackLog}, logs...)
}

// keepLogs copies the logs into $STACKENV_KEEP_LOGS, when set.
func (e *Env) keepLogs() {
	keep := os.Getenv(KeepLogsEnv)
	if keep == "" {
		return
	}
	for _, p := range e.logs() {
		if b, err := os.ReadFile(p); err == nil {
			_ = os.WriteFile(filepath.Join(keep, filepath.Base(p)), b, 0o644)
		}
	}
}

// LogTails returns the last 40 lines of fnmgr's logs (each replica's) and
// of the stack's, for a failure's report.
func (e *Env) LogTails() string {
	var b strings.Builder
	fnmgrLogs, _ := filepath.Glob(filepath.Join(e.Dir, "fnmgr*.log"))
	for _, p := range append(fnmgrLogs, e.StackLog) {
		if tail := lastLines(p, 40); tail != "" {
			fmt.Fprintf(&b, "--- end of %s ---\n%s\n", p, tail)
		}
	}
	return b.String()
}

// lastLines returns the last n lines of the file at path ("" when there
// is none).
func lastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
