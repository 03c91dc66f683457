package actionrt

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

const (
	bootTimeout   = 30 * time.Second // proxy start until {"ready":true}
	exitPatience  = 5 * time.Second  // SIGKILL until the process is reaped
	drainPatience = 2 * time.Second  // process gone until its pipes reach EOF
	// maxResultBytes is OpenWhisk's action result limit (1 MB).
	maxResultBytes = 1 << 20
	maxResponse    = maxResultBytes + 64 // room for the proxy's envelope
)

// errProxyDied means the proxy exited (or closed its response pipe).
var errProxyDied = errors.New("proxy exited")

// response is one line the proxy wrote on fd 4.
type response struct {
	line      []byte
	truncated bool // longer than maxResponse; line holds the head
	size      int  // full length when truncated
}

// worker is one proxy process: a warm container in OpenWhisk terms.
// Pool fields (busy, lastUsed, idleGen, idleTimer) are guarded by Pool.mu.
type worker struct {
	id    int
	key   string
	memMB int
	dir   string // scratch dir: the process's cwd and unpacked zips

	busy      bool
	lastUsed  time.Time
	idleGen   int
	idleTimer *time.Timer

	mu        sync.Mutex // guards destroyed, cmd and cg against a concurrent destroy
	destroyed bool
	cmd       *exec.Cmd
	cg        *cgroup

	req      *os.File      // our end of the proxy's fd 3
	respPipe *os.File      // our end of the proxy's fd 4
	outPipes [2]*os.File   // our ends of stdout, stderr
	resp     chan response // lines from fd 4; closed at EOF
	done     chan struct{} // closed when the process was reaped
	closing  chan struct{} // closed when destroy starts
	readers  sync.WaitGroup
	logs     *logSink
	once     sync.Once
}

func newWorker(id int, key string, memMB int, scratch string) *worker {
	return &worker{
		id: id, key: key, memMB: memMB,
		dir:     filepath.Join(scratch, fmt.Sprintf("w%d", id)),
		resp:    make(chan response, 1),
		done:    make(chan struct{}),
		closing: make(chan struct{}),
		logs:    newLogSink(),
	}
}

// start launches the proxy in its own process group, moves it into
// its cgroup (when cgs is set) before it can receive code, and waits
// for {"ready":true}. The CPU quota is applied only after that, so the
// interpreter's own boot is not throttled; the memory limit applies
// from the start.
func (w *worker) start(ctx context.Context, argv, env []string, cgs *cgroups, cpus cpuLimit) error {
	if err := w.spawn(argv, env, cgs); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	r, err := w.await(ctx)
	if err != nil {
		return fmt.Errorf("wait for proxy ready: %w", err)
	}
	var hello struct {
		Ready bool `json:"ready"`
	}
	if json.Unmarshal(r.line, &hello) != nil || !hello.Ready {
		return fmt.Errorf("unexpected proxy greeting %q", r.line)
	}
	if w.cg != nil {
		if err := w.cg.setCPU(cpus); err != nil {
			return err
		}
	}
	return nil
}

func (w *worker) spawn(argv, env []string, cgs *cgroups) (err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.destroyed {
		return ErrClosed
	}
	if err := os.MkdirAll(w.dir, 0o700); err != nil {
		return fmt.Errorf("create worker dir: %w", err)
	}
	if cgs != nil {
		if w.cg, err = cgs.newChild(fmt.Sprintf("w%d", w.id), w.memMB); err != nil {
			return err
		}
	}
	// Child ends: fd 3 (requests), fd 4 (responses), stdout, stderr.
	var child [4]*os.File
	defer func() {
		for _, f := range child {
			if f != nil {
				f.Close()
			}
		}
	}()
	var pipeErr error
	pipe := func() (r, wr *os.File) {
		r, wr, e := os.Pipe()
		pipeErr = errors.Join(pipeErr, e)
		return r, wr
	}
	child[0], w.req = pipe()
	w.respPipe, child[1] = pipe()
	w.outPipes[stdout], child[2] = pipe()
	w.outPipes[stderr], child[3] = pipe()
	if pipeErr != nil {
		return fmt.Errorf("create pipes: %w", pipeErr)
	}

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = w.dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = child[2], child[3]
	cmd.ExtraFiles = []*os.File{child[0], child[1]}
	// Setpgid lets us kill the whole group; Pdeathsig covers a sidecar
	// crash (New also sweeps cgroups a crashed run left behind).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	w.cmd = cmd
	go func() {
		_ = cmd.Wait()
		close(w.done)
	}()
	w.readers.Add(3)
	for i, f := range w.outPipes {
		go func() {
			defer w.readers.Done()
			w.logs.readStream(f, i, DefaultLogLimitBytes+1)
		}()
	}
	go func() {
		defer w.readers.Done()
		w.readResponses()
	}()
	if w.cg != nil {
		if err := w.cg.addProc(cmd.Process.Pid); err != nil {
			return err
		}
	}
	return nil
}

func (w *worker) pid() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cmd == nil {
		return 0
	}
	return w.cmd.Process.Pid
}

// exited reports whether the process has been reaped.
func (w *worker) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

func (w *worker) readResponses() {
	defer close(w.resp)
	br := bufio.NewReaderSize(w.respPipe, 64<<10)
	for {
		var r response
		for {
			frag, err := br.ReadSlice('\n')
			if room := maxResponse - len(r.line); room >= len(frag) {
				r.line = append(r.line, frag...)
			} else {
				r.truncated = true
				r.line = append(r.line, frag[:max(room, 0)]...)
			}
			r.size += len(frag)
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil {
				return
			}
			break
		}
		r.line = trimNewline(r.line)
		select {
		case w.resp <- r:
		case <-w.closing:
			return
		}
	}
}

// await returns the proxy's next response line.
func (w *worker) await(ctx context.Context) (response, error) {
	select {
	case r, ok := <-w.resp:
		if !ok {
			return response{}, errProxyDied
		}
		return r, nil
	case <-w.done:
		// The process may have answered just before exiting.
		select {
		case r, ok := <-w.resp:
			if ok {
				return r, nil
			}
		default:
		}
		return response{}, errProxyDied
	case <-ctx.Done():
		return response{}, ctx.Err()
	}
}

// call sends one request and waits for its response. A send error is
// not reported: a dead proxy shows up as errProxyDied.
func (w *worker) call(ctx context.Context, msg any) (response, error) {
	b, err := json.Marshal(msg)
	if err != nil {
		return response{}, fmt.Errorf("encode request: %w", err)
	}
	b = append(b, '\n')
	// Write from a goroutine: a busy proxy may not read a large request,
	// and the worker is destroyed on every path that abandons the call.
	go func() { _, _ = w.req.Write(b) }()
	return w.await(ctx)
}

// oomKilled reports whether the worker's cgroup saw an OOM kill. It
// waits briefly for the process to be reaped first.
func (w *worker) oomKilled() bool {
	if w.cg == nil {
		return false
	}
	select {
	case <-w.done:
	case <-time.After(exitPatience):
	}
	return w.cg.oomKilled()
}

// kill SIGKILLs the process group and every task of the cgroup,
// without waiting.
func (w *worker) kill() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cmd != nil {
		_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
	}
	if w.cg != nil {
		w.cg.killAll()
	}
}

// destroy kills the worker and removes its cgroup and scratch dir. It
// is idempotent; concurrent callers wait for the first to finish.
func (w *worker) destroy() error {
	var err error
	w.once.Do(func() {
		w.mu.Lock()
		w.destroyed = true
		started := w.cmd != nil
		w.mu.Unlock()
		close(w.closing)
		w.kill()
		if started {
			select {
			case <-w.done:
			case <-time.After(exitPatience):
				err = fmt.Errorf("worker w%d did not exit", w.id)
			}
			// Grandchildren that left the group may hold the pipes open:
			// after a grace period, closing our ends ends the readers.
			drained := make(chan struct{})
			go func() { w.readers.Wait(); close(drained) }()
			select {
			case <-drained:
			case <-time.After(drainPatience):
			}
			w.closePipes()
			<-drained
		} else {
			w.closePipes()
		}
		if w.cg != nil {
			err = errors.Join(err, w.cg.remove())
		}
		err = errors.Join(err, os.RemoveAll(w.dir))
	})
	return err
}

// closePipes closes our pipe ends; nil ones (a failed spawn) are skipped.
func (w *worker) closePipes() {
	for _, f := range []*os.File{w.req, w.respPipe, w.outPipes[0], w.outPipes[1]} {
		if f != nil {
			f.Close()
		}
	}
}
