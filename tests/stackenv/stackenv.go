// Package stackenv runs the local stack inside a test binary
// (deploy/local/stack), once per package from its TestMain, so that tests
// can crash its parts (fnmgr, CouchDB, the Kafka broker) and read every
// log it writes; and it gives tests the clients a user has: OpenWhisk's
// API through openwhisk-client-go, the admin API, CouchDB.
//
//	var env *stackenv.Env
//	func TestMain(m *testing.M) { os.Exit(stackenv.Run(m, stackenv.Options{}, &env)) }
//	func TestX(t *testing.T) { e := stackenv.Need(t, env); … }
//
// Where the stack cannot run (no pouchdb-server, -short), env stays nil
// and Need skips the test.
package stackenv

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fnmgr/fnmgr/deploy/local/stack"
	"github.com/fnmgr/fnmgr/plugin/config"
	"github.com/fnmgr/fnmgr/tests/harness"
)

// KeepLogsEnv names a directory to copy fnmgr.log and stack.log into
// when the tests end (the stack's own directory is removed).
const KeepLogsEnv = "STACKENV_KEEP_LOGS"

// Options configure the stack of a package.
type Options struct {
	// Debug logs the stack and fnmgr at debug level (what a secrets test
	// wants to see); info level otherwise.
	Debug bool
	// Modify changes the stack's options before it starts.
	Modify func(*stack.Options)
}

// Env is the running stack.
type Env struct {
	Stack *stack.Stack
	// EP is what endpoints.json says.
	EP stack.Endpoints
	// Dir is the stack's LOCAL_DIR; StackLog the stack's own log (every
	// part but fnmgr); FnmgrLog fnmgr's output.
	Dir, StackLog, FnmgrLog string
	// HTTP bounds every call the helpers make.
	HTTP *http.Client
}

// Run starts the stack, runs the package's tests and stops it; it returns
// the exit code for os.Exit. *env is set while the tests run.
func Run(m *testing.M, o Options, env **Env) int {
	flag.Parse()
	if harness.SkipReason() != "" || testing.Short() {
		return m.Run() // each test skips
	}
	tmp, err := os.MkdirTemp("", "fnmgr-stackenv-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	e, stop, err := start(tmp, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stackenv: start the local stack:", err)
		return 1
	}
	*env = e
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stackenv: stop:", err)
		if code == 0 {
			code = 1
		}
	}
	if keep := os.Getenv(KeepLogsEnv); keep != "" {
		for _, p := range []string{e.FnmgrLog, e.StackLog} {
			if b, err := os.ReadFile(p); err == nil {
				_ = os.WriteFile(filepath.Join(keep, filepath.Base(p)), b, 0o644)
			}
		}
	}
	if code != 0 {
		for _, p := range []string{e.FnmgrLog, e.StackLog} {
			if b, err := os.ReadFile(p); err == nil {
				fmt.Fprintf(os.Stderr, "--- end of %s ---\n%s\n", filepath.Base(p), b[max(0, len(b)-6000):])
			}
		}
	}
	return code
}

func start(tmp string, o Options) (*Env, func() error, error) {
	bin, err := harness.FnmgrBin(filepath.Join(tmp, "bin"))
	if err != nil {
		return nil, nil, err
	}
	level := slog.LevelInfo
	if o.Debug {
		level = slog.LevelDebug
		// The child inherits this process's environment.
		if err := os.Setenv(config.EnvLogLevel, "debug"); err != nil {
			return nil, nil, err
		}
	}
	e := &Env{Dir: filepath.Join(tmp, "local"), StackLog: filepath.Join(tmp, "stack.log"),
		HTTP: &http.Client{Timeout: 30 * time.Second}}
	e.FnmgrLog = filepath.Join(e.Dir, stack.FnmgrLogFile)
	logf, err := os.Create(e.StackLog)
	if err != nil {
		return nil, nil, err
	}
	so := stack.Options{Dir: e.Dir, FnmgrBin: bin, Console: io.Discard,
		Logger: slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: level}))}
	if o.Modify != nil {
		o.Modify(&so)
	}
	st, err := stack.New(so)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		err = st.Start(ctx)
		cancel()
	}
	if err != nil {
		_ = logf.Close()
		return nil, nil, err
	}
	e.Stack, e.EP = st, st.Endpoints()
	stop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := st.Stop(ctx)
		_ = logf.Close()
		return err
	}
	return e, stop, nil
}

// Need returns env, or skips t when the stack does not run here.
func Need(t testing.TB, env *Env) *Env {
	t.Helper()
	if env == nil {
		if r := harness.SkipReason(); r != "" {
			t.Skip(r)
		}
		t.Skip("stackenv: the local stack does not run in -short mode")
	}
	return env
}
