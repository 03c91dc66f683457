package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/fnmgr/fnmgr/deploy/local/procwait"
	"github.com/fnmgr/fnmgr/plugin/config"
)

// fnmgrSpec is how to run fnmgr for this stack.
type fnmgrSpec struct {
	bin         string
	env         []string // the whole environment of the child
	adminURL    string
	gatewayAddr string
	logPath     string
}

// fnmgrEnv is the child's environment: this process's, with fnmgr's
// settings for this stack replacing any inherited ones.
func fnmgrEnv(base []string, e Endpoints, controllers []string, couchURL string, extra map[string]string) []string {
	set := map[string]string{
		config.EnvAdminAddr:      strings.TrimPrefix(e.Admin, "http://"),
		config.EnvGatewayAddr:    strings.TrimPrefix(e.Gateway, "http://"),
		config.EnvControllers:    strings.Join(controllers, ","),
		config.EnvCouchURL:       couchURL,
		config.EnvOWDBPrefix:     DBPrefix,
		config.EnvKafkaBrokers:   strings.Join(e.Kafka, ","),
		config.EnvAdminToken:     e.AdminToken,
		config.EnvAdminTokenFile: "", // the token above is the one
	}
	for k, v := range extra {
		set[k] = v
	}
	env := make([]string, 0, len(base)+len(set))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ours := set[k]; !ours {
			env = append(env, kv)
		}
	}
	for k, v := range set {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// fnmgrProc is one run of `fnmgr serve`, leader of its own process group.
type fnmgrProc struct {
	cmd  *exec.Cmd
	out  *childOutput
	done chan struct{} // closed once the process was reaped
	err  error         // Wait's result, readable after done
}

// startFnmgr starts fnmgr and waits until its /healthz answers 200 and its
// gateway accepts connections. On failure nothing of it is left.
func (s *Stack) startFnmgr(ctx context.Context, spec fnmgrSpec) (*fnmgrProc, error) {
	if fi, err := os.Stat(spec.bin); err != nil || fi.IsDir() {
		return nil, fmt.Errorf("stack: fnmgr executable %s not found (build it with `make build`, or name it with %s)", spec.bin, named(flagFnmgrBin))
	}
	logFile, err := os.OpenFile(spec.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("stack: open fnmgr log: %w", err)
	}
	cmd := exec.Command(spec.bin, "serve")
	cmd.Env = spec.env
	cmd.Dir = s.opts.Dir
	// Its own process group, so that a signal to -pid reaches everything
	// it starts; SIGTERM should this process die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	p := &fnmgrProc{cmd: cmd, out: newChildOutput(logFile, s.opts.Console, "fnmgr | "), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("stack: start %s: %w", spec.bin, err)
	}
	go func() {
		p.err = cmd.Wait()
		p.out.flush()
		_ = logFile.Close()
		close(p.done)
	}()
	if err := waitFnmgr(ctx, spec, s.opts.StartTimeout, p); err != nil {
		p.signal(syscall.SIGKILL)
		<-p.done
		return nil, fmt.Errorf("stack: fnmgr: %w (see %s)%s", err, spec.logPath, p.out.tail())
	}
	s.log.Info("fnmgr ready", "admin", spec.adminURL, "gateway", spec.gatewayAddr, "pid", cmd.Process.Pid)
	return p, nil
}

func waitFnmgr(ctx context.Context, spec fnmgrSpec, timeout time.Duration, p *fnmgrProc) error {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("not ready after %s", timeout))
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	probe := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, spec.adminURL+"/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /healthz: %s", resp.Status)
		}
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", spec.gatewayAddr)
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		return c.Close()
	}
	return procwait.Await(ctx, p.done, func() error { return p.err }, probe)
}

// signal signals fnmgr's whole process group. ESRCH means it is gone.
func (p *fnmgrProc) signal(sig syscall.Signal) {
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

// stop sends SIGTERM and waits for the exit; after grace, or when ctx ends,
// it kills the group. Either way the group is swept with SIGKILL at the end
// so that nothing it started outlives it.
func (p *fnmgrProc) stop(ctx context.Context, grace time.Duration) error {
	p.signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	var err error
	select {
	case <-p.done:
	case <-t.C:
		err = fmt.Errorf("no exit within %s of SIGTERM; killed", grace)
	case <-ctx.Done():
		err = fmt.Errorf("killed: %w", ctx.Err())
	}
	p.signal(syscall.SIGKILL)
	<-p.done
	return err
}

// kill sends SIGKILL to the group, as a crash would, and reaps it.
func (p *fnmgrProc) kill() {
	p.signal(syscall.SIGKILL)
	<-p.done
}

// exited reports whether the process has exited, and how.
func (p *fnmgrProc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

var errNotRunning = errors.New("not running")
