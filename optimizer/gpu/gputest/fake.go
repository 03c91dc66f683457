// Package gputest provides a fake gpu.Sampler for tests: it replays
// prepared usage, or fails the way a machine without DCGM does.
package gputest

import (
	"context"
	"sync"

	"github.com/fnmgr/fnmgr/optimizer/gpu"
)

// Sampler is a fake gpu.Sampler. Set Err to make Start fail (an
// *gpu.UnavailableError to act like a machine without DCGM); otherwise
// every session returns Usage. It records the targets it was started for.
type Sampler struct {
	Usage gpu.Usage
	Err   error

	mu      sync.Mutex
	targets []gpu.Target
	open    int
}

// Start implements gpu.Sampler.
func (s *Sampler) Start(_ context.Context, t gpu.Target) (gpu.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return nil, s.Err
	}
	s.targets = append(s.targets, t)
	s.open++
	return session{s}, nil
}

// Targets lists the targets of the sessions started.
func (s *Sampler) Targets() []gpu.Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]gpu.Target(nil), s.targets...)
}

// Open counts sessions started and not stopped.
func (s *Sampler) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open
}

type session struct{ s *Sampler }

func (x session) Stop() (gpu.Usage, error) {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	x.s.open--
	u := x.s.Usage
	if u.Scope == "" {
		u.Scope = gpu.ScopeWholeGPU // as DCGM's device fields measure
	}
	return u, nil
}
