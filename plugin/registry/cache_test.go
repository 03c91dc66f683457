package registry_test

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/plugin/registry"
)

// TestFollowerReadsWhatTheLeaderWrote: two replicas' Stores over one
// registry. The follower (epoch 0) and a replica whose lease epoch changed
// read each function from the database, never a copy they cached before
// the leader changed it (TestKillAnyReplicaDuringTransitions found a
// follower answering a transition long finished as still in progress).
func TestFollowerReadsWhatTheLeaderWrote(t *testing.T) {
	ctx := t.Context()
	docs := registry.NewMemoryDocs()
	leader := registry.NewStore(docs)
	leader.CacheWhile(func() int64 { return 1 })
	var epoch atomic.Int64 // the other replica's: 0 while it follows
	other := registry.NewStore(docs)
	other.CacheWhile(epoch.Load)

	setState := func(s registry.State) {
		t.Helper()
		_, err := leader.Update(ctx, "guest", "fn", func(f *registry.Function) error { f.State = s; return nil })
		require.NoError(t, err)
	}
	readState := func() registry.State {
		t.Helper()
		f, err := other.GetFunction(ctx, "guest", "fn")
		require.NoError(t, err)
		return f.State
	}
	_, err := leader.Create(ctx, "guest", "fn", func(f *registry.Function) error { f.Revisions = 1; return nil })
	require.NoError(t, err)

	require.Equal(t, registry.Latest, readState())
	setState(registry.Blocked)
	require.Equal(t, registry.Blocked, readState(), "a follower reads the leader's write")

	// The other replica leads (epoch 2) and caches; the lead moves on
	// (another epoch), and the document changes meanwhile.
	epoch.Store(2)
	require.Equal(t, registry.Blocked, readState())
	epoch.Store(3)
	setState(registry.Latest)
	require.Equal(t, registry.Latest, readState(), "nothing cached under another epoch is read")

	// Without a gate (one replica), the Store keeps what it read: a write
	// by anyone else shows only once the Store writes (and conflicts).
	single := registry.NewStore(docs)
	f, err := single.GetFunction(ctx, "guest", "fn")
	require.NoError(t, err)
	setState(registry.Retired)
	cached, err := single.GetFunction(ctx, "guest", "fn")
	require.NoError(t, err)
	require.Equal(t, f.State, cached.State, "one replica reads its cache")
}
