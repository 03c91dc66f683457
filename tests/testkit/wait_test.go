package testkit

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPause(t *testing.T) {
	require.True(t, Pause(context.Background(), time.Millisecond), "the whole delay passed")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.False(t, Pause(ctx, time.Hour), "a cancelled context ends the pause at once")
	require.False(t, Pause(ctx, 0))
}

func TestAwait(t *testing.T) {
	var n atomic.Int32
	require.NoError(t, Await(context.Background(), time.Minute, time.Millisecond, func() bool { return n.Add(1) == 3 }))
	require.EqualValues(t, 3, n.Load(), "checked until it held, not beyond")

	err := Await(context.Background(), 20*time.Millisecond, time.Millisecond, func() bool { return false })
	require.ErrorContains(t, err, "not met within 20ms")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = Await(ctx, time.Minute, time.Millisecond, func() bool { return false })
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
}
