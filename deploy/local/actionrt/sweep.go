package actionrt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// cgroupRoots are the roots the pools make their parent cgroups under:
// the v1 memory and cpu mounts, or the unified (v2) mount when it carries
// the memory controller. mountsFile is /proc/self/mounts outside tests.
func cgroupRoots(mountsFile string) []string {
	data, err := os.ReadFile(mountsFile)
	if err != nil {
		return nil
	}
	m := parseMounts(string(data))
	var roots []string
	for _, r := range []string{m.v1Memory, m.v1CPU, m.unified} {
		if r != "" && !contains(roots, r) {
			roots = append(roots, r)
		}
	}
	return roots
}

// Cgroups lists the cgroups (parents made by pools, with whatever is left
// under them) whose name starts with prefix, under every controller root.
func Cgroups(prefix string) []string {
	return cgroupsIn(cgroupRoots("/proc/self/mounts"), prefix)
}

func cgroupsIn(roots []string, prefix string) []string {
	var out []string
	for _, root := range roots {
		entries, err := os.ReadDir(root)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
				out = append(out, filepath.Join(root, e.Name()))
			}
		}
	}
	return out
}

// RemoveCgroups kills every task in the cgroups whose name starts with
// prefix and removes them, children first. A stack calls it before its
// pools start (what a crashed or killed run left) and after they closed
// (whatever a worker still exiting left behind). It must not share prefix
// with a running pool. prefix must be a plain, non-empty name.
func RemoveCgroups(ctx context.Context, prefix string) error {
	if prefix == "" || strings.ContainsAny(prefix, "/\x00") || prefix == "." || prefix == ".." {
		return fmt.Errorf("actionrt: invalid cgroup prefix %q", prefix)
	}
	return removeCgroupsIn(ctx, cgroupRoots("/proc/self/mounts"), prefix)
}

func removeCgroupsIn(ctx context.Context, roots []string, prefix string) error {
	var errs []error
	for _, dir := range cgroupsIn(roots, prefix) {
		// cgroup.kill exists only on v2 directories; killTasks falls back.
		_, err := os.Stat(filepath.Join(dir, "cgroup.controllers"))
		v2 := err == nil
		sweepChildren(ctx, dir, v2)
		killTasks(dir, v2)
		if err := rmdirWait(ctx, dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("actionrt: remove cgroups %s*: %w", prefix, err)
	}
	return nil
}
