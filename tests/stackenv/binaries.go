package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/fnmgr/fnmgr/tests/contract"
)

// binaries are the executables the harness runs.
type binaries struct {
	localstack, fnmgr string
}

// buildMu serializes builds within a test binary.
var buildMu sync.Mutex

// BinDirEnv names a directory holding localstack and fnmgr to use instead
// of the repository's bin/.
const BinDirEnv = "FNMGR_TEST_BIN_DIR"

// findOrBuild returns localstack and fnmgr from $FNMGR_TEST_BIN_DIR, else
// from the repository's bin/ when both exist there, else builds both into
// dir.
func findOrBuild(dir string) (binaries, error) {
	if d := os.Getenv(BinDirEnv); d != "" {
		b := binaries{localstack: filepath.Join(d, "localstack"), fnmgr: filepath.Join(d, "fnmgr")}
		if !isFile(b.localstack) || !isFile(b.fnmgr) {
			return binaries{}, fmt.Errorf("$%s=%s lacks localstack or fnmgr", BinDirEnv, d)
		}
		return b, nil
	}
	root, err := contract.RepoRoot()
	if err != nil {
		return binaries{}, err
	}
	b := binaries{localstack: filepath.Join(root, "bin", "localstack"), fnmgr: filepath.Join(root, "bin", "fnmgr")}
	if isFile(b.localstack) && isFile(b.fnmgr) {
		return b, nil
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return binaries{}, err
	}
	b = binaries{localstack: filepath.Join(dir, "localstack"), fnmgr: filepath.Join(dir, "fnmgr")}
	for out, pkg := range map[string]string{b.localstack: "./deploy/local/cmd/localstack", b.fnmgr: "./plugin/cmd/fnmgr"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = root
		if msg, err := cmd.CombinedOutput(); err != nil {
			return binaries{}, fmt.Errorf("go build %s (bin/ has no prebuilt binaries; `make build` makes them): %w\n%s", pkg, err, msg)
		}
	}
	return b, nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// FnmgrBin returns the fnmgr executable the harness would run (from
// $FNMGR_TEST_BIN_DIR or bin/, else built into dir), for tests that run
// the stack in process (deploy/local/stack) to kill and restart fnmgr.
func FnmgrBin(dir string) (string, error) {
	b, err := findOrBuild(dir)
	return b.fnmgr, err
}

// SkipReason says why stack tests cannot run here ("" when they can).
func SkipReason() string { return skipReason() }
