// Package harness runs fnmgr's local stack for integration tests: the
// bin/localstack that `make build` makes (with bin/fnmgr beside it), as a
// child process with its own LOCAL_DIR and every port 0, and hands the
// tests what its endpoints.json says.
//
// Use Start(t) for a stack of one's own, stopped in t.Cleanup; or share one
// stack across a package's tests, since startup costs seconds:
//
//	func TestMain(m *testing.M) { harness.Main(m) }
//	func TestX(t *testing.T)    { env := harness.Shared(t); … }
//
// Stopping sends SIGTERM and then checks that every process the stack ran
// is gone and no cgroup of its invokers is left.
//
// $FNMGR_TEST_BIN_DIR names other binaries to run. When it is unset and
// bin/localstack or bin/fnmgr is missing, the harness builds both with
// `go build` into a temporary directory. bin/ is not rebuilt: run
// `make build` (which `make test` does) after changing the code.
package harness

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fnmgr/fnmgr/deploy/local/couchdb"
)

// Timeouts of the harness.
const (
	// StartTimeout bounds the wait for endpoints.json.
	StartTimeout = 2 * time.Minute
	// StopTimeout bounds the wait for the stack to exit after SIGTERM.
	StopTimeout = time.Minute
)

// Env is what a test gets: the content of endpoints.json.
type Env struct {
	APIHost    string   `json:"apihost"`
	Gateway    string   `json:"gateway"`
	Admin      string   `json:"admin"`
	CouchDB    string   `json:"couchdb"`
	Kafka      []string `json:"kafka"`
	Namespace  string   `json:"namespace"`
	Auth       string   `json:"auth"`
	AdminToken string   `json:"adminToken"`
	// Dir is the stack's LOCAL_DIR (endpoints.json, fnmgr.log,
	// localstack.log).
	Dir string `json:"-"`
}

// Start runs a stack for t and stops it in t.Cleanup, failing t if it
// does not stop cleanly. It skips t in -short runs, and where pouchdb-server
// is not installed unless $CI is set.
func Start(t testing.TB) *Env {
	t.Helper()
	if reason := skipReason(); reason != "" {
		t.Skip(reason)
	}
	bins, err := findOrBuild(t.TempDir())
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	s, err := launch(context.Background(), bins, t.TempDir())
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("harness: %v", err)
		}
	})
	return s.env
}

// shared is the stack Main started for the package's tests.
var shared *Env

// Main runs the package's tests against one shared stack and exits: call it
// from TestMain. Tests get the stack with Shared.
func Main(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse() // for testing.Short
	if skipReason() != "" {
		return m.Run() // Shared skips each test
	}
	tmp, err := os.MkdirTemp("", "fnmgr-harness-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	bins, err := findOrBuild(filepath.Join(tmp, "bin"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		return 1
	}
	s, err := launch(context.Background(), bins, filepath.Join(tmp, "local"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		return 1
	}
	shared = s.env
	code := m.Run()
	if err := s.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Shared returns the stack Main started; without Main it starts one for t.
// Like Start, it skips t when the stack cannot run here.
func Shared(t testing.TB) *Env {
	t.Helper()
	if reason := skipReason(); reason != "" {
		t.Skip(reason)
	}
	if shared != nil {
		return shared
	}
	return Start(t)
}

// skipReason says why integration tests cannot run: -short, or no
// pouchdb-server outside CI (in CI, a missing pouchdb-server fails the
// tests through the stack's own error).
func skipReason() string {
	if testing.Short() {
		return "integration test: needs the local stack; skipped with -short"
	}
	if _, err := couchdb.FindBin(); err != nil && os.Getenv("CI") == "" {
		return fmt.Sprintf("integration test: pouchdb-server is not installed (make deps): %v", err)
	}
	return ""
}

// readEndpoints parses endpoints.json; a missing or half-written file is
// an error (the stack writes it atomically, so half-written means not yet).
func readEndpoints(path string) (*Env, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var e Env
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if e.APIHost == "" || e.Gateway == "" || e.Admin == "" {
		return nil, errors.New("endpoints.json lacks apihost, gateway or admin")
	}
	return &e, nil
}
