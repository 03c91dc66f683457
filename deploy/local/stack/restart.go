package stack

import (
	"context"
	"errors"
	"fmt"

	"github.com/fnmgr/fnmgr/deploy/local/controller"
)

// KillFnmgr kills fnmgr's process group with SIGKILL, as a crash would, and
// reaps it. StartFnmgr brings it back with the same configuration.
func (s *Stack) KillFnmgr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fnmgr == nil {
		return fmt.Errorf("stack: kill fnmgr: %w", errNotRunning)
	}
	s.fnmgr.kill()
	s.fnmgr = nil
	s.log.Info("fnmgr killed")
	return nil
}

// StartFnmgr starts fnmgr again after KillFnmgr (or after it exited) and
// waits until it is healthy.
func (s *Stack) StartFnmgr(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startFnmgrLocked(ctx)
}

func (s *Stack) startFnmgrLocked(ctx context.Context) error {
	if s.fnmgr != nil {
		if exited, _ := s.fnmgr.exited(); !exited {
			return errors.New("stack: fnmgr is already running")
		}
	}
	p, err := s.startFnmgr(ctx, s.fnmgrSpec)
	if err != nil {
		return err
	}
	s.fnmgr = p
	go s.watchFnmgr(p)
	return nil
}

// watchFnmgr says when fnmgr exits without being asked to; the rest of the
// stack keeps running.
func (s *Stack) watchFnmgr(p *fnmgrProc) {
	<-p.done
	s.mu.Lock()
	asked := s.fnmgr != p
	s.mu.Unlock()
	if !asked {
		s.log.Warn("fnmgr exited on its own; the rest of the stack keeps running", "err", p.err)
	}
}

func (s *Stack) stopFnmgrLocked(ctx context.Context) error {
	p := s.fnmgr
	if p == nil {
		return nil
	}
	s.fnmgr = nil
	return p.stop(ctx, s.opts.StopTimeout)
}

// StopController stops controller i (0-based) gracefully; its port stays
// reserved for StartController.
func (s *Stack) StopController(ctx context.Context, i int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < 0 || i >= len(s.controllers) {
		return fmt.Errorf("stack: no controller %d (there are %d)", i, len(s.controllers))
	}
	if s.controllers[i] == nil {
		return fmt.Errorf("stack: stop controller %d: %w", i, errNotRunning)
	}
	return s.stopControllerLocked(ctx, i)
}

// StartController starts controller i again on its port.
func (s *Stack) StartController(ctx context.Context, i int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < 0 || i >= len(s.controllers) {
		return fmt.Errorf("stack: no controller %d (there are %d)", i, len(s.controllers))
	}
	if s.controllers[i] != nil {
		return fmt.Errorf("stack: controller %d is already running", i)
	}
	return s.startControllerLocked(ctx, i)
}

func (s *Stack) startControllerLocked(ctx context.Context, i int) error {
	c, err := controller.New(ctx, controller.Options{
		ID:       fmt.Sprint(i),
		Addr:     hostPort(s.ports.controllers[i]),
		CouchURL: s.couch.URL(),
		DBPrefix: DBPrefix,
		Brokers:  s.broker.Addrs(),
		Invokers: s.opts.Invokers,
		APIHost:  s.endpoints.APIHost,
		Limits:   s.opts.Limits,
		Logger:   s.opts.Logger,

		Controllers:          s.opts.Controllers,
		Runtimes:             s.opts.prof.Runtimes,
		DisableUserEvents:    !s.opts.prof.UserEvents,
		TopicPrefix:          s.opts.KafkaTopicPrefix,
		UserEventTopicPrefix: s.opts.KafkaUserEventsTopicPrefix,
	})
	if err != nil {
		return fmt.Errorf("stack: controller %d: %w", i, err)
	}
	if err := c.Start(ctx); err != nil {
		_ = c.Stop(context.WithoutCancel(ctx))
		return fmt.Errorf("stack: controller %d: %w", i, err)
	}
	s.controllers[i] = c
	return nil
}

func (s *Stack) stopControllerLocked(ctx context.Context, i int) error {
	c := s.controllers[i]
	if c == nil {
		return nil
	}
	s.controllers[i] = nil
	if err := c.Stop(ctx); err != nil {
		return fmt.Errorf("controller %d: %w", i, err)
	}
	return nil
}
