package procwait_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/deploy/local/procwait"
)

func TestAwait(t *testing.T) {
	notYet := errors.New("not yet")
	for _, tc := range []struct {
		name    string
		readyAt int           // probe call that succeeds (0: never)
		exitAt  time.Duration // when the process exits (0: never)
		timeout time.Duration
		want    string // "" for success, else part of the error
	}{
		{name: "ready on the third probe", readyAt: 3, timeout: 10 * time.Second},
		{name: "the process exits first", exitAt: 30 * time.Millisecond, timeout: 10 * time.Second, want: "exited before it was ready (exit status 1)"},
		{name: "never ready", timeout: 100 * time.Millisecond, want: "not ready (last probe: not yet)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeoutCause(context.Background(), tc.timeout, errors.New("not ready"))
			defer cancel()
			exited := make(chan struct{})
			if tc.exitAt > 0 {
				time.AfterFunc(tc.exitAt, func() { close(exited) })
			}
			calls := 0
			err := procwait.Await(ctx, exited, func() error { return errors.New("exit status 1") }, func() error {
				calls++
				if calls == tc.readyAt {
					return nil
				}
				return notYet
			})
			if tc.want == "" {
				require.NoError(t, err)
				require.Equal(t, tc.readyAt, calls)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}
