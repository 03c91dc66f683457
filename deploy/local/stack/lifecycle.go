package stack

import (
	"context"
	"errors"
	"fmt"
)

// teardowns are the stops of the parts started so far, run newest first.
// Stack serializes access (its mutex), so no lock here.
type teardowns []teardown

type teardown struct {
	name string
	stop func(context.Context) error
}

func (t *teardowns) add(name string, stop func(context.Context) error) {
	*t = append(*t, teardown{name: name, stop: stop})
}

// run stops everything, newest first, and forgets it; one failure does not
// keep the others from stopping.
func (t *teardowns) run(ctx context.Context) error {
	steps := *t
	*t = nil
	var errs []error
	for i := len(steps) - 1; i >= 0; i-- {
		if err := steps[i].stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stack: stop %s: %w", steps[i].name, err))
		}
	}
	return errors.Join(errs...)
}
