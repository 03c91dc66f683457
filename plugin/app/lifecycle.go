package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// lifecycle holds the teardown of every resource started so far. Each
// resource registers its teardown right after it is created; stop runs them
// in reverse order (last started, first stopped), all under one context
// that carries the deadline. A failed Start calls stop to unwind.
type lifecycle struct {
	mu    sync.Mutex
	steps []step
}

type step struct {
	name string
	stop func(context.Context) error
}

// onStop registers the teardown of the resource just created.
func (l *lifecycle) onStop(name string, stop func(context.Context) error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.steps = append(l.steps, step{name: name, stop: stop})
}

// stop runs every registered teardown, newest first, and forgets them. A
// teardown that fails (or outlives ctx) does not keep the others from
// running; the errors are joined.
func (l *lifecycle) stop(ctx context.Context) error {
	l.mu.Lock()
	steps := l.steps
	l.steps = nil
	l.mu.Unlock()
	var errs []error
	for i := len(steps) - 1; i >= 0; i-- {
		if err := steps[i].stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("app: stop %s: %w", steps[i].name, err))
		}
	}
	return errors.Join(errs...)
}
