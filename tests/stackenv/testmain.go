package stackenv

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/fnmgr/fnmgr/deploy/local/couchdb"
)

// Run starts the package's stack, runs its tests and stops the stack; it
// returns the exit code for os.Exit. *env is set while the tests run, and
// stays nil where the stack cannot run (each test then skips in Need).
// When a test failed, the end of the stack's logs is printed.
func Run(m *testing.M, o Options, env **Env) int {
	flag.Parse() // for testing.Short
	if SkipReason() != "" {
		return m.Run()
	}
	e, err := Launch(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*env = e
	code := m.Run()
	if code != 0 {
		fmt.Fprint(os.Stderr, e.LogTails())
	}
	if err := e.Stop(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Need returns env, or skips t when the stack does not run here.
func Need(t testing.TB, env *Env) *Env {
	t.Helper()
	if env == nil {
		if r := SkipReason(); r != "" {
			t.Skip(r)
		}
		t.Fatal("stackenv: no stack: call stackenv.Run from the package's TestMain")
	}
	return env
}

// Start runs a stack of t's own and stops it in t.Cleanup, failing t if
// it does not stop cleanly (and logging the end of its logs when t
// failed). It skips t where the stack cannot run.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	if r := SkipReason(); r != "" {
		t.Skip(r)
	}
	e, err := Launch(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(e.LogTails())
		}
		if err := e.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return e
}

// SkipReason says why integration tests cannot run here ("" when they
// can): -short, or no pouchdb-server outside CI (in CI, a missing
// pouchdb-server fails the tests through the stack's own error).
func SkipReason() string {
	if testing.Short() {
		return "integration test: needs the local stack; skipped with -short"
	}
	if _, err := couchdb.FindBin(); err != nil && os.Getenv("CI") == "" {
		return fmt.Sprintf("integration test: pouchdb-server is not installed (make deps): %v", err)
	}
	return ""
}
