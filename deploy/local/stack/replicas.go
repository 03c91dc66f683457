package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/fnmgr/fnmgr/plugin/config"
)

// FnmgrReplica is one fnmgr process of a stack with several replicas, as
// endpoints.json lists it.
type FnmgrReplica struct {
	PID     int    `json:"pid"`
	Gateway string `json:"gateway"`
	Admin   string `json:"admin"`
}

// replicaRestartDelay paces the restarts of a replica that keeps dying.
const replicaRestartDelay = time.Second

// replicaSet is fnmgr as several replicas behind nginx: each replica has
// its own ports, id and log; nginx listens on the stack's gateway and admin
// ports. A replica that exits is started again (as Kubernetes restarts a
// pod), and its entry in endpoints.json updated.
type replicaSet struct {
	specs []fnmgrSpec
	procs []*fnmgrProc
	nginx *nginxProc
	// stopping is set (under Stack.mu) once the set is being stopped:
	// exits are then expected.
	stopping bool
	// ctx ends when the set is stopped: a restart pending or under way
	// gives up then.
	ctx    context.Context
	cancel context.CancelFunc
}

// startReplicasLocked starts o.FnmgrReplicas replicas and nginx in front
// of them. s.mu is held.
func (s *Stack) startReplicasLocked(ctx context.Context) error {
	o := s.opts
	rs := &replicaSet{}
	rs.ctx, rs.cancel = context.WithCancel(context.Background())
	s.replicas = rs
	var ups []nginxReplica
	for i := range o.FnmgrReplicas {
		spec, err := s.replicaSpec(i)
		if err != nil {
			return err
		}
		rs.specs = append(rs.specs, spec)
		ups = append(ups, nginxReplica{Gateway: spec.gatewayAddr, Admin: trimScheme(spec.adminURL)})
	}
	s.td.add("fnmgr replicas", s.stopReplicas)
	for i, spec := range rs.specs {
		p, err := s.startFnmgr(ctx, spec)
		if err != nil {
			return fmt.Errorf("stack: replica %d: %w", i, err)
		}
		rs.procs = append(rs.procs, p)
		go s.watchReplica(i, p)
	}
	n, err := startNginx(ctx, filepath.Join(o.Dir, "nginx"), hostPort(s.ports.gateway), hostPort(s.ports.admin), ups, o.StartTimeout)
	if err != nil {
		return err
	}
	rs.nginx = n
	s.endpoints.Fnmgr = rs.entries()
	return nil
}

// replicaSpec is replica i's command: fnmgr's settings for this stack,
// with its own ports, replica id and advertised admin URL.
func (s *Stack) replicaSpec(i int) (fnmgrSpec, error) {
	gw, err := freePort()
	if err != nil {
		return fnmgrSpec{}, err
	}
	adm, err := freePort()
	if err != nil {
		return fnmgrSpec{}, err
	}
	e := s.endpoints
	e.Gateway, e.Admin = httpURL(gw), httpURL(adm)
	id := "fnmgr-" + strconv.Itoa(i)
	extra := map[string]string{config.EnvReplicaID: id, config.EnvAdvertiseAdmin: e.Admin}
	for k, v := range topicEnv(s.opts) {
		extra[k] = v
	}
	env := fnmgrEnv(os.Environ(), e, s.controllerURLs(), s.couch.URL(), extra)
	return fnmgrSpec{bin: s.opts.FnmgrBin, env: env, adminURL: e.Admin, gatewayAddr: hostPort(gw),
		logPath: filepath.Join(s.opts.Dir, "fnmgr-"+strconv.Itoa(i)+".log")}, nil
}

// watchReplica starts replica i again when it exits on its own, and
// rewrites endpoints.json with its new pid.
func (s *Stack) watchReplica(i int, p *fnmgrProc) {
	for {
		<-p.done
		s.mu.Lock()
		rs := s.replicas
		if rs == nil || rs.stopping || rs.procs[i] != p {
			s.mu.Unlock()
			return
		}
		s.log.Warn("fnmgr replica exited; starting it again", "replica", i, "err", p.err)
		s.mu.Unlock()
		// A chosen pause, not a wait for anything: it paces the restarts
		// of a replica that keeps dying; stopping the set ends it.
		select {
		case <-rs.ctx.Done():
			return
		case <-time.After(replicaRestartDelay):
		}
		np, err := s.startFnmgr(rs.ctx, rs.specs[i])
		s.mu.Lock()
		if rs.stopping {
			s.mu.Unlock()
			if np != nil {
				_ = np.stop(context.Background(), s.opts.StopTimeout)
			}
			return
		}
		if err != nil {
			s.log.Error("restart a fnmgr replica", "replica", i, "err", err)
			s.mu.Unlock()
			continue // p is still the exited one: try again
		}
		rs.procs[i], p = np, np
		s.endpoints.Fnmgr = rs.entries()
		if err := writeEndpoints(filepath.Join(s.opts.Dir, EndpointsFile), s.endpoints); err != nil {
			s.log.Error("update endpoints.json", "err", err)
		}
		s.mu.Unlock()
	}
}

// stopReplicas stops nginx, then every replica. s.mu is held.
func (s *Stack) stopReplicas(ctx context.Context) error {
	rs := s.replicas
	if rs == nil {
		return nil
	}
	rs.stopping = true
	rs.cancel()
	var errs []error
	if rs.nginx != nil {
		errs = append(errs, rs.nginx.stop(ctx))
	}
	for _, p := range rs.procs {
		errs = append(errs, p.stop(ctx, s.opts.StopTimeout))
	}
	return errors.Join(errs...)
}

// entries lists the replicas for endpoints.json.
func (rs *replicaSet) entries() []FnmgrReplica {
	out := make([]FnmgrReplica, len(rs.procs))
	for i, p := range rs.procs {
		out[i] = FnmgrReplica{PID: p.cmd.Process.Pid, Gateway: "http://" + rs.specs[i].gatewayAddr, Admin: rs.specs[i].adminURL}
	}
	return out
}

// KillReplica kills replica i with SIGKILL, as a crash would; the stack
// starts it again. It returns the pid killed.
func (s *Stack) KillReplica(i int) (int, error) {
	s.mu.Lock()
	rs := s.replicas
	if rs == nil || i < 0 || i >= len(rs.procs) {
		s.mu.Unlock()
		return 0, fmt.Errorf("stack: no fnmgr replica %d", i)
	}
	p := rs.procs[i]
	s.mu.Unlock()
	pid := p.cmd.Process.Pid
	p.signal(syscall.SIGKILL)
	<-p.done
	return pid, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", hostPort(0))
	if err != nil {
		return 0, fmt.Errorf("stack: pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func trimScheme(u string) string {
	if len(u) > 7 && u[:7] == "http://" {
		return u[7:]
	}
	return u
}
