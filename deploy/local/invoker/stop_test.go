package invoker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// inflight counts the records being handled.
func (t *offsetTracker) inflight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, p := range t.parts {
		n += len(p.inflight)
	}
	return n
}

func (st *stack) newInvoker(t *testing.T, id int) (*Invoker, string) {
	t.Helper()
	cgroup := fmt.Sprintf("fnmgr-invoker-stop-%d-%d", os.Getpid(), id)
	inv, err := New(t.Context(), Options{
		ID: id, CouchURL: st.couchURL, DBPrefix: st.prefix, Brokers: st.brokers,
		UserMemoryMB: 512, CgroupName: cgroup, WorkDir: t.TempDir(), UserEvents: true,
		Logger: slog.New(slog.NewTextHandler(st.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	return inv, cgroup
}

func requireNoCgroup(t *testing.T, cgroup string) {
	t.Helper()
	_, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory", cgroup))
	require.True(t, errors.Is(err, os.ErrNotExist), "cgroup %s left behind", cgroup)
}

// TestInvokerStop covers the lifecycle: Stop without Start, a graceful Stop
// that lets the activation in flight finish, and a Stop whose deadline cuts
// one short, which is then delivered again to the next invoker.
func TestInvokerStop(t *testing.T) {
	st := startStack(t)
	a := st.putAction(t, "guest", "sleeper", "nodejs:20", nodeSleep, nil, nil)
	const id = 1

	t.Run("without start", func(t *testing.T) {
		inv, cgroup := st.newInvoker(t, id)
		require.NoError(t, inv.Stop(t.Context()))
		require.NoError(t, inv.Stop(t.Context()), "twice")
		requireNoCgroup(t, cgroup)
	})

	t.Run("graceful: the activation in flight completes", func(t *testing.T) {
		inv, cgroup := st.newInvoker(t, id)
		require.NoError(t, inv.Start(t.Context()))
		msg := activationFor(t, a, true, `{}`)
		st.send(t, id, msg)
		require.Eventually(t, func() bool { return inv.offsets.inflight() == 1 }, waitLong, 10*time.Millisecond)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		require.NoError(t, inv.Stop(ctx))
		requireNoCgroup(t, cgroup)
		st.watch.mu.Lock()
		_, acked := st.watch.acks[msg.ActivationID]
		st.watch.mu.Unlock()
		require.True(t, acked, "acknowledged before Stop returned")
	})

	t.Run("deadline: the activation is aborted and delivered again", func(t *testing.T) {
		inv, cgroup := st.newInvoker(t, id)
		require.NoError(t, inv.Start(t.Context()))
		msg := activationFor(t, a, true, `{}`)
		st.send(t, id, msg)
		require.Eventually(t, func() bool { return inv.offsets.inflight() == 1 }, waitLong, 10*time.Millisecond)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		require.ErrorIs(t, inv.Stop(ctx), context.DeadlineExceeded)
		requireNoCgroup(t, cgroup)
		st.watch.mu.Lock()
		_, acked := st.watch.acks[msg.ActivationID]
		st.watch.mu.Unlock()
		require.False(t, acked)

		next, _ := st.newInvoker(t, id)
		require.NoError(t, next.Start(t.Context()))
		t.Cleanup(func() { require.NoError(t, next.Stop(context.Background())) })
		r := st.await(t, msg)
		require.Equal(t, entity.StatusSuccess, r.doc.Response.StatusCode)
	})
}
