package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/fnmgr/fnmgr/deploy/local/procwait"
)

// EnvNginx names the nginx executable to use instead of the one on PATH.
const EnvNginx = "FNMGR_NGINX"

// ToolsDir is where `make deps` unpacks Debian's nginx and prometheus when
// they are not installed (relative to the repository's root).
const ToolsDir = ".deps/debian"

// FindTool finds a Debian tool: $env when set, then PATH, then /usr/sbin
// and /usr/bin, then the repository's ToolsDir (found by walking up from
// the working directory to go.mod).
func FindTool(name, env string) (string, error) {
	if p := os.Getenv(env); env != "" && p != "" {
		return p, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	cands := []string{"/usr/sbin/" + name, "/usr/bin/" + name}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				cands = append(cands, filepath.Join(d, ToolsDir, "usr/sbin", name), filepath.Join(d, ToolsDir, "usr/bin", name))
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, c := range cands {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() {
			return c, nil
		}
	}
	return "", fmt.Errorf("stack: %s not found (run `make deps`, or name it with %s)", name, env)
}

// nginxConf is nginx's configuration in front of the replicas: one
// upstream for the gateways and one for the admin APIs, as OpenWhisk's own
// deployments put nginx in front of their controllers
// (openwhisk-deploy-kube helm/openwhisk/templates/nginx-cm.yaml).
//
// proxy_next_upstream error timeout: a request that could not be passed to
// a replica (connection refused: the replica is down) goes to the next
// one. nginx never passes a non-idempotent request (POST, PATCH, LOCK) to
// a second server once it was sent to one, unless non_idempotent is
// listed, which it is not: an invocation or an admin write that reached a
// replica is never sent twice (nginx docs, ngx_http_upstream_module,
// proxy_next_upstream). No keepalive to the upstreams, so that a request is
// never written to a connection a killed replica left behind.
var nginxConf = template.Must(template.New("nginx").Parse(`# Written by the local stack; edits are lost on the next start.
{{if .User}}user {{.User}};
{{end}}worker_processes 1;
daemon off;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path {{.Dir}}/tmp/body;
  proxy_temp_path {{.Dir}}/tmp/proxy;
  fastcgi_temp_path {{.Dir}}/tmp/fastcgi;
  uwsgi_temp_path {{.Dir}}/tmp/uwsgi;
  scgi_temp_path {{.Dir}}/tmp/scgi;
  client_max_body_size 64m;
  proxy_http_version 1.1;
  proxy_set_header Host $http_host;
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
  proxy_buffering off;
  proxy_request_buffering off;
  proxy_connect_timeout 1s;
  proxy_read_timeout 10m;
  proxy_send_timeout 10m;
  proxy_next_upstream error timeout;
  proxy_next_upstream_tries 0;
  upstream fnmgr_gateway {
{{range .Replicas}}    server {{.Gateway}} max_fails=1 fail_timeout=1s;
{{end}}  }
  upstream fnmgr_admin {
{{range .Replicas}}    server {{.Admin}} max_fails=1 fail_timeout=1s;
{{end}}  }
  server {
    listen {{.Gateway}};
    location / { proxy_pass http://fnmgr_gateway; }
  }
  server {
    listen {{.Admin}};
    location / { proxy_pass http://fnmgr_admin; }
  }
}
`))

type nginxReplica struct{ Gateway, Admin string }

// nginxProc is nginx running as the stack's child, with its own
// configuration, pid file and logs under dir.
type nginxProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startNginx writes the configuration and starts nginx listening on
// gateway and admin (host:port), and waits until both accept connections.
func startNginx(ctx context.Context, dir, gateway, admin string, rs []nginxReplica, timeout time.Duration) (*nginxProc, error) {
	bin, err := FindTool("nginx", EnvNginx)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("stack: nginx: %w", err)
		}
	}
	conf := filepath.Join(dir, "nginx.conf")
	var b strings.Builder
	data := struct {
		User, Dir, Gateway, Admin string
		Replicas                  []nginxReplica
	}{Dir: dir, Gateway: gateway, Admin: admin, Replicas: rs}
	if os.Geteuid() == 0 {
		// As root, nginx's workers would run as nobody, who cannot write
		// the stack's directory.
		if u, err := user.Current(); err == nil {
			data.User = u.Username
		}
	}
	if err := nginxConf.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("stack: nginx: %w", err)
	}
	if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
		return nil, fmt.Errorf("stack: nginx: %w", err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("stack: start nginx: %w", err)
	}
	p := &nginxProc{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	wctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("nginx not listening after %s", timeout))
	defer cancel()
	probe := func() error {
		for _, a := range []string{gateway, admin} {
			c, err := (&net.Dialer{}).DialContext(wctx, "tcp", a)
			if err != nil {
				return err
			}
			_ = c.Close()
		}
		return nil
	}
	if err := procwait.Await(wctx, p.done, func() error { return p.err }, probe); err != nil {
		p.stop(context.Background())
		tail, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return nil, fmt.Errorf("stack: nginx: %w\n%s", err, tail)
	}
	return p, nil
}

// stop asks nginx to finish its requests and quit (SIGQUIT), then kills
// its group when ctx ends first.
func (p *nginxProc) stop(ctx context.Context) error {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	if p.err != nil && !errors.As(p.err, new(*exec.ExitError)) {
		return fmt.Errorf("stack: nginx: %w", p.err)
	}
	return nil
}
