package actionrt

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

var (
	// ErrClosed is returned by Run once Close has begun.
	ErrClosed = errors.New("actionrt: pool closed")
	// ErrUnsupportedKind is returned by Run for a kind that is neither nodejs nor python.
	ErrUnsupportedKind = errors.New("actionrt: unsupported action kind")
	// ErrTooLarge is returned by Run when an action needs more memory than the whole pool.
	ErrTooLarge = errors.New("actionrt: action memory exceeds pool capacity")
)

//go:embed proxy/node.js
var nodeProxy []byte

//go:embed proxy/python.py
var pythonProxy []byte

// Options configure a Pool. Zero values take the documented defaults.
type Options struct {
	UserMemoryMB int     // pool capacity, like whisk.container-pool.user-memory (default 2048)
	UserCPUs     float64 // like container-pool.user-cpus; 0 = runtime.NumCPU(). A worker of M MB gets max(UserCPUs*M/UserMemoryMB, 0.01) CPUs
	// CPUShares gives a worker of M MB max(1024*M/UserMemoryMB, 2) CPU
	// shares and no quota, like OpenWhisk's default docker --cpu-shares
	// (ContainerFactory.scala cpuShare), instead of the UserCPUs quota.
	CPUShares bool
	// CgroupName is the parent cgroup made under each controller's mount
	// root; workers are its children "w<N>". Default "fnmgr-local".
	CgroupName   string
	IdleTimeout  time.Duration // idle warm workers are stopped after this long (default 10m)
	WorkDir      string        // scratch dir for proxies and unpacked zips (default os.TempDir())
	NodeBinary   string        // default "node"
	PythonBinary string        // default "python3"
	Logger       *slog.Logger
	// DisableCgroups runs workers without memory/cpu limits without
	// probing cgroups at all.
	DisableCgroups bool

	mountsFile string // tests: replaces /proc/self/mounts
}

// Pool runs OpenWhisk actions in warm worker processes, one activation
// at a time per worker, like the invoker's container pool with the
// Docker container factory. All methods are safe for concurrent use.
type Pool struct {
	opts    Options
	log     *slog.Logger
	cg      *cgroups // nil when cgroups are unavailable
	scratch string
	proxies map[string]string // family -> proxy script path
	baseEnv []string

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced when memory frees or state changes
	workers  map[*worker]struct{}
	usedMB   int
	nextID   int
	inflight int
	waiting  int // Runs waiting for pool memory
	closed   bool
}

// New prepares a pool: it writes the proxies to a scratch dir under
// WorkDir and detects cgroups once, removing stale children a crashed
// run left under CgroupName. Without usable cgroups it logs one warning
// and runs actions without limits.
func New(ctx context.Context, o Options) (*Pool, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("actionrt: new: %w", err)
	}
	o = o.withDefaults()
	p := &Pool{
		opts:    o,
		log:     o.Logger.With("component", "actionrt"),
		changed: make(chan struct{}),
		workers: map[*worker]struct{}{},
	}
	scratch, err := os.MkdirTemp(o.WorkDir, "fnmgr-actionrt-")
	if err != nil {
		return nil, fmt.Errorf("actionrt: create scratch dir: %w", err)
	}
	p.scratch = scratch
	p.proxies = map[string]string{
		"nodejs": filepath.Join(scratch, "proxy", "node.js"),
		"python": filepath.Join(scratch, "proxy", "python.py"),
	}
	if err := writeProxies(p.proxies); err != nil {
		_ = os.RemoveAll(scratch)
		return nil, err
	}
	p.baseEnv = workerEnv(scratch)
	if o.DisableCgroups {
		p.log.Info("cgroups disabled by configuration; actions run without memory/cpu limits")
		return p, nil
	}
	cg, err := detectCgroups(o.CgroupName, o.mountsFile)
	if err != nil {
		p.log.Warn(fmt.Sprintf("cgroups unavailable: %v; actions run without memory/cpu limits", err))
		return p, nil
	}
	p.cg = cg
	if cg.cpu == "" {
		p.log.Info("cpu cgroup controller unavailable; actions run without cpu limits")
	}
	p.log.Debug("cgroups enabled", "v2", cg.v2, "memory", cg.mem, "cpu", cg.cpu)
	return p, nil
}

func (o Options) withDefaults() Options {
	if o.UserMemoryMB <= 0 {
		o.UserMemoryMB = 2048
	}
	if o.UserCPUs <= 0 {
		o.UserCPUs = float64(runtime.NumCPU())
	}
	if o.CgroupName == "" {
		o.CgroupName = "fnmgr-local"
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 10 * time.Minute
	}
	if o.WorkDir == "" {
		o.WorkDir = os.TempDir()
	}
	if o.NodeBinary == "" {
		o.NodeBinary = "node"
	}
	if o.PythonBinary == "" {
		o.PythonBinary = "python3"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.mountsFile == "" {
		o.mountsFile = "/proc/self/mounts"
	}
	return o
}

func writeProxies(paths map[string]string) error {
	src := map[string][]byte{"nodejs": nodeProxy, "python": pythonProxy}
	for family, path := range paths {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("actionrt: write proxy: %w", err)
		}
		if err := os.WriteFile(path, src[family], 0o444); err != nil {
			return fmt.Errorf("actionrt: write proxy: %w", err)
		}
	}
	return nil
}

// workerEnv is the environment of every worker: deliberately not the
// sidecar's own, which may hold credentials. __OW_* values come per run.
func workerEnv(home string) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	return []string{
		"PATH=" + path,
		"HOME=" + home,
		"LANG=C.UTF-8",
		"PYTHONIOENCODING=utf-8",
		"PYTHONDONTWRITEBYTECODE=1",
	}
}

// CgroupsEnabled reports whether workers are confined by cgroups.
func (p *Pool) CgroupsEnabled() bool { return p.cg != nil }

// cpusFor is the CPU limit of a worker of memMB: like the Docker
// factory's --cpu-shares, or its --cpus (a quota).
func (p *Pool) cpusFor(memMB int) cpuLimit {
	if p.opts.CPUShares {
		return cpuLimit{shares: cpuShares(memMB, p.opts.UserMemoryMB)}
	}
	return cpuLimit{cpus: max(p.opts.UserCPUs*float64(memMB)/float64(p.opts.UserMemoryMB), 0.01)}
}

// cpuShares is ContainerPoolConfig.cpuShare (OpenWhisk master 1fae641a2,
// common/scala/.../containerpool/ContainerFactory.scala):
// max(1024 / (userMemory / reservedMemory), 2), with integer division of
// the memories as there.
func cpuShares(memMB, userMemoryMB int) int {
	if memMB <= 0 || userMemoryMB/memMB == 0 {
		return 1024
	}
	return max(int(1024.0/float64(userMemoryMB/memMB)), 2)
}

// Close kills every worker (its whole process group and cgroup), waits
// for in-flight Runs to return, and removes every cgroup, the parent
// included, and the scratch dir. Runs still in flight fail with ErrClosed.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	ws := make([]*worker, 0, len(p.workers))
	for w := range p.workers {
		ws = append(ws, w)
		p.removeLocked(w)
	}
	p.notifyLocked()
	p.mu.Unlock()
	p.destroyAll(ws, "pool closed")

	var errs []error
	if err := p.waitRuns(ctx); err != nil {
		errs = append(errs, err)
	}
	if p.cg != nil {
		if err := p.cg.removeParents(ctx); err != nil {
			errs = append(errs, fmt.Errorf("actionrt: close: %w", err))
		}
	}
	if err := os.RemoveAll(p.scratch); err != nil {
		errs = append(errs, fmt.Errorf("actionrt: close: %w", err))
	}
	return errors.Join(errs...)
}

func (p *Pool) waitRuns(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.inflight > 0 {
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			p.mu.Lock()
			return fmt.Errorf("actionrt: close: wait for runs: %w", ctx.Err())
		}
		p.mu.Lock()
	}
	return nil
}
