// Package procwait waits for a child process of the local stack to be
// ready: it probes until the probe succeeds, the process exits, or the
// context ends.
package procwait

import (
	"context"
	"fmt"
	"time"
)

// Await calls probe until it returns nil, 20 ms apart at first and then
// up to 250 ms apart. It fails once exited is closed (exitErr says how the
// process ended) or ctx ends (with ctx's cause and the last probe's error).
func Await(ctx context.Context, exited <-chan struct{}, exitErr func() error, probe func() error) error {
	delay := 20 * time.Millisecond
	for {
		err := probe()
		if err == nil {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-exited:
			t.Stop()
			return fmt.Errorf("exited before it was ready (%v)", exitErr())
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last probe: %v)", context.Cause(ctx), err)
		case <-t.C:
		}
		delay = min(2*delay, 250*time.Millisecond)
	}
}
