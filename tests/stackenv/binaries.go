package stackenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/fnmgr/fnmgr/tests/contract"
)

// BinDirEnv names a directory holding localstack and fnmgr to use instead
// of the repository's bin/.
const BinDirEnv = "FNMGR_TEST_BIN_DIR"

// binaries are the executables a stack runs.
type binaries struct {
	localstack, fnmgr string
}

// buildMu serializes builds within a process.
var buildMu sync.Mutex

// binaries returns o.FnmgrBin (and, for a child-process stack,
// localstack); without o.FnmgrBin, both as findOrBuild finds them.
func (o Options) binaries(dir string) (binaries, error) {
	if o.FnmgrBin != "" && !o.Process {
		return binaries{fnmgr: o.FnmgrBin}, nil
	}
	b, err := findOrBuild(dir)
	if o.FnmgrBin != "" {
		b.fnmgr = o.FnmgrBin
	}
	return b, err
}

// findOrBuild returns localstack and fnmgr from $FNMGR_TEST_BIN_DIR, else
// from beside the running executable when both are there (a load program
// `make bench-*` built into bin/), else from the repository's bin/ when
// both are there, else builds both into dir.
func findOrBuild(dir string) (binaries, error) {
	in := func(d string) binaries {
		return binaries{localstack: filepath.Join(d, "localstack"), fnmgr: filepath.Join(d, "fnmgr")}
	}
	if d := os.Getenv(BinDirEnv); d != "" {
		b := in(d)
		if !isFile(b.localstack) || !isFile(b.fnmgr) {
			return binaries{}, fmt.Errorf("$%s=%s lacks localstack or fnmgr", BinDirEnv, d)
		}
		return b, nil
	}
	if exe, err := os.Executable(); err == nil {
		if b := in(filepath.Dir(exe)); isFile(b.localstack) && isFile(b.fnmgr) {
			return b, nil
		}
	}
	root, err := contract.RepoRoot()
	if err != nil {
		return binaries{}, err
	}
	if b := in(filepath.Join(root, "bin")); isFile(b.localstack) && isFile(b.fnmgr) {
		return b, nil
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return binaries{}, err
	}
	b := in(dir)
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
