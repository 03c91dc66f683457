package couchdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fnmgr/fnmgr/deploy/local/procwait"
)

// Defaults for Options.
const (
	DefaultHost         = "127.0.0.1"
	DefaultStartTimeout = 30 * time.Second
	DefaultStopTimeout  = 10 * time.Second

	// BinEnv names the environment variable that overrides the path of the
	// pouchdb-server executable.
	BinEnv = "POUCHDB_SERVER_BIN"

	// binRel is where `npm ci` puts the executable, relative to the
	// repository root.
	binRel = "deploy/local/couchdb/node_modules/.bin/pouchdb-server"

	// portRetries bounds how often Start picks another free port when the
	// one it picked was taken before pouchdb-server could bind it.
	portRetries = 3
)

var (
	// ErrBinaryNotFound reports that the pouchdb-server executable is
	// missing; `make deps` installs it.
	ErrBinaryNotFound = errors.New("pouchdb-server executable not found (run `make deps`)")
	// ErrPortInUse reports that the requested address is already taken.
	ErrPortInUse = errors.New("port already in use")
	// ErrRunning reports a Start on a Server that is already running.
	ErrRunning = errors.New("already running")
)

// Options configures a Server.
type Options struct {
	// Dir holds the server's databases, config.json and log.txt. Required.
	Dir string
	// Host is the address to bind; DefaultHost when empty.
	Host string
	// Port to listen on; 0 picks a free port, which later Starts reuse.
	Port int
	// Bin is the pouchdb-server executable; when empty, $POUCHDB_SERVER_BIN,
	// else the npm install under the repository (see FindBin).
	Bin string
	// StartTimeout bounds how long Start waits for the server to answer;
	// DefaultStartTimeout when zero.
	StartTimeout time.Duration
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL, unless
	// its context ends sooner; DefaultStopTimeout when zero.
	StopTimeout time.Duration
	// Logger receives the server's output at debug level; nothing is logged
	// when nil.
	Logger *slog.Logger
}

// Server is a pouchdb-server child process. The zero value is not usable;
// call Start.
type Server struct {
	opts Options
	bin  string
	log  *slog.Logger

	mu   sync.Mutex
	port int
	proc *process // nil while stopped
}

// process is one run of the executable.
type process struct {
	cmd    *exec.Cmd
	stderr *tail
	done   chan struct{} // closed once cmd.Wait returned
	err    error         // cmd.Wait's result, readable after done
}

// Start validates o, starts pouchdb-server and waits until it answers
// requests.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Dir == "" {
		return nil, errors.New("couchdb: Options.Dir is required")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("couchdb: resolve dir: %w", err)
	}
	o.Dir = dir
	if o.Host == "" {
		o.Host = DefaultHost
	}
	if o.Port < 0 || o.Port > 65535 {
		return nil, fmt.Errorf("couchdb: invalid port %d", o.Port)
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = DefaultStopTimeout
	}
	bin := o.Bin
	if bin == "" {
		if bin, err = FindBin(); err != nil {
			return nil, err
		}
	} else if err := checkBin(bin); err != nil {
		return nil, err
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts: o,
		bin:  bin,
		log:  logger.With("component", "couchdb"),
		port: o.Port,
	}
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// FindBin returns the pouchdb-server executable: $POUCHDB_SERVER_BIN when
// set, else deploy/local/couchdb/node_modules/.bin/pouchdb-server under the
// first directory, walking up from the working directory and then from the
// running executable's directory, that has one.
func FindBin() (string, error) {
	if bin := os.Getenv(BinEnv); bin != "" {
		if err := checkBin(bin); err != nil {
			return "", fmt.Errorf("%w (from $%s)", err, BinEnv)
		}
		return bin, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for {
			bin := filepath.Join(dir, filepath.FromSlash(binRel))
			if checkBin(bin) == nil {
				return bin, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("couchdb: %w: no %s above the working directory or the executable; set $%s", ErrBinaryNotFound, binRel, BinEnv)
}

func checkBin(bin string) error {
	fi, err := os.Stat(bin)
	if err != nil {
		return fmt.Errorf("couchdb: %w: %w", ErrBinaryNotFound, err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("couchdb: %w: %s is not an executable file", ErrBinaryNotFound, bin)
	}
	return nil
}

// URL returns the server's base URL, such as http://127.0.0.1:5984. It stays
// the same across restarts.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "http://" + net.JoinHostPort(s.opts.Host, strconv.Itoa(s.port))
}

// Port returns the port the server listens on (chosen by the first Start
// when Options.Port was 0).
func (s *Server) Port() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.port
}

// Dir returns the absolute state directory.
func (s *Server) Dir() string { return s.opts.Dir }

// Done returns a channel that is closed when the current process exits, for
// whatever reason; nil while stopped.
func (s *Server) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	return s.proc.done
}

// Start starts the server again after Stop or Kill, on the same Dir and
// port, and waits until it answers. It fails with ErrRunning while running.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		select {
		case <-s.proc.done: // exited on its own; start afresh
			s.proc = nil
		default:
			return fmt.Errorf("couchdb: start: %w", ErrRunning)
		}
	}
	if err := os.MkdirAll(filepath.Join(s.opts.Dir, "data"), 0o755); err != nil {
		return fmt.Errorf("couchdb: create dir: %w", err)
	}
	for attempt := 0; ; attempt++ {
		port := s.port
		if port == 0 {
			p, err := freePort(s.opts.Host)
			if err != nil {
				return err
			}
			port = p
		} else if err := checkFree(s.opts.Host, port); err != nil {
			return err
		}
		p, err := s.run(ctx, port)
		if err == nil {
			s.port, s.proc = port, p
			s.log.Info("pouchdb-server ready", "url", "http://"+net.JoinHostPort(s.opts.Host, strconv.Itoa(port)), "dir", s.opts.Dir, "pid", p.cmd.Process.Pid)
			return nil
		}
		// A port we picked may be taken by someone else before
		// pouchdb-server binds it; pick again.
		if s.port == 0 && errors.Is(err, ErrPortInUse) && attempt < portRetries {
			continue
		}
		return err
	}
}

// run starts one process on port and waits until it is ready. On failure the
// process is gone when run returns.
func (s *Server) run(ctx context.Context, port int) (*process, error) {
	addr := net.JoinHostPort(s.opts.Host, strconv.Itoa(port))
	cmd := exec.Command(s.bin,
		"--host", s.opts.Host,
		"--port", strconv.Itoa(port),
		"--dir", filepath.Join(s.opts.Dir, "data"),
		"--config", filepath.Join(s.opts.Dir, "config.json"),
		"--no-color",
	)
	cmd.Dir = s.opts.Dir
	cmd.SysProcAttr = sysProcAttr()
	p := &process{cmd: cmd, stderr: newTail(40), done: make(chan struct{})}
	cmd.Stdout = &lineWriter{fn: func(line string) { s.log.Debug(redactQuery(line), "stream", "stdout") }}
	cmd.Stderr = &lineWriter{fn: func(line string) {
		p.stderr.add(line)
		s.log.Debug(redactQuery(line), "stream", "stderr")
	}}
	// Output pipes held open by a stray grandchild must not block Wait.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("couchdb: start %s: %w", s.bin, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()

	err := waitReady(ctx, "http://"+addr, s.opts.StartTimeout, p)
	if err == nil {
		return p, nil
	}
	p.kill()
	<-p.done
	if strings.Contains(p.stderr.String(), "already in use") {
		return nil, fmt.Errorf("couchdb: %s: %w", addr, ErrPortInUse)
	}
	return nil, fmt.Errorf("couchdb: pouchdb-server on %s: %w%s", addr, err, p.stderr.suffix())
}

// waitReady polls GET / and GET /_all_dbs (which proves the storage backend
// loaded) until both answer 200, the process exits, ctx ends or timeout
// passes.
func waitReady(ctx context.Context, base string, timeout time.Duration, p *process) error {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("not ready after %s", timeout))
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true, DisableKeepAlives: true}}
	return procwait.Await(ctx, p.done, func() error { return p.err }, func() error { return probe(ctx, hc, base) })
}

func probe(ctx context.Context, hc *http.Client, base string) error {
	for _, path := range []string{"/", "/_all_dbs"} {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		req, err := http.NewRequestWithContext(pctx, http.MethodGet, base+path, nil)
		if err != nil {
			cancel()
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			cancel()
			return err
		}
		resp.Body.Close()
		cancel()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", path, resp.Status)
		}
	}
	return nil
}

// Stop sends SIGTERM to the server's process group and waits for it to exit.
// If it has not exited after Options.StopTimeout, or when ctx ends, the group
// is killed and Stop reports that. Stopping a stopped server is a no-op.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	p.signal(syscall.SIGTERM)
	t := time.NewTimer(s.opts.StopTimeout)
	defer t.Stop()
	var why error
	select {
	case <-p.done:
		s.log.Info("pouchdb-server stopped")
		return nil
	case <-t.C:
		why = fmt.Errorf("still running %s after SIGTERM", s.opts.StopTimeout)
	case <-ctx.Done():
		why = ctx.Err()
	}
	p.kill()
	<-p.done
	return fmt.Errorf("couchdb: stop: killed: %w", why)
}

// Kill sends SIGKILL to the server's process group and waits for it to exit,
// as a crash would. Start brings it back on the same Dir and port.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	p.kill()
	<-p.done
	s.log.Info("pouchdb-server killed")
	return nil
}

func (p *process) signal(sig syscall.Signal) {
	// The child leads its own process group (Setpgid), so -pid reaches it
	// and anything it started. ESRCH only means it is gone already.
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

func (p *process) kill() { p.signal(syscall.SIGKILL) }

// freePort asks the kernel for a free port on host.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("couchdb: pick a free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// checkFree fails fast with ErrPortInUse when host:port cannot be bound.
func checkFree(host string, port int) error {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("couchdb: %s: %w", addr, ErrPortInUse)
		}
		return fmt.Errorf("couchdb: listen on %s: %w", addr, err)
	}
	return l.Close()
}
