package testkit

import (
	"context"
	"fmt"
	"time"
)

// Pause waits d, or less when ctx ends first; it reports whether the
// whole d passed. It is for a delay that is chosen, not waited out: a
// drawn random point at which a fault is injected, a load generator's
// pacing, the time a fake action takes. Never use it to wait for
// something to happen: await that (Await, require.Eventually).
func Pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Await checks cond every poll until it holds (nil), ctx ends (ctx's
// error) or within has passed (an error saying so). It is
// require.Eventually for programs without a *testing.T (load programs) and
// for callers that must stop when ctx does.
func Await(ctx context.Context, within, poll time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for !cond() {
		if !Pause(ctx, poll) {
			if cond() {
				return nil
			}
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("testkit: condition not met within %s", within)
			}
			return ctx.Err()
		}
	}
	return nil
}
