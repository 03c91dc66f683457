package registry_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/plugin/registry"
)

// TestMemoryDocs: the in-memory Docs follows CouchDB's rules for
// revisions, so a Store over it behaves as over CouchDB.
func TestMemoryDocs(t *testing.T) {
	ctx := t.Context()
	m := registry.NewMemoryDocs()
	type doc struct {
		ID  string `json:"_id"`
		Rev string `json:"_rev,omitempty"`
		N   int    `json:"n"`
	}
	var got doc
	require.ErrorIs(t, m.Get(ctx, "a", &got), couch.ErrNotFound)
	rev1, err := m.Put(ctx, "a", doc{ID: "a", N: 1})
	require.NoError(t, err)
	_, err = m.Put(ctx, "a", doc{ID: "a", N: 2})
	require.ErrorIs(t, err, couch.ErrConflict, "a write without the stored revision conflicts")
	rev2, err := m.Put(ctx, "a", doc{ID: "a", Rev: rev1, N: 2})
	require.NoError(t, err)
	require.NotEqual(t, rev1, rev2)
	require.NoError(t, m.Get(ctx, "a", &got))
	require.Equal(t, doc{ID: "a", Rev: rev2, N: 2}, got)
	require.ErrorIs(t, m.Delete(ctx, "a", rev1), couch.ErrConflict)
	require.NoError(t, m.Delete(ctx, "a", rev2))
	require.ErrorIs(t, m.Get(ctx, "a", &got), couch.ErrNotFound)
	_, err = m.Put(ctx, "a", doc{ID: "a", N: 3})
	require.NoError(t, err, "a deleted document is created anew")
	_, err = m.Put(ctx, "b", doc{ID: "c"})
	require.Error(t, err, "the _id must be the id")

	for i := range 5 {
		_, err := m.Put(ctx, fmt.Sprintf("p:%d", i), doc{ID: fmt.Sprintf("p:%d", i)})
		require.NoError(t, err)
	}
	rows, err := m.Page(ctx, "p:\ufff0", "p:", true, 3)
	require.NoError(t, err)
	require.Equal(t, []string{"p:4", "p:3", "p:2"}, []string{rows[0].ID, rows[1].ID, rows[2].ID})
}

// TestMemoryStore: the registry's own logic over memory: conflicts of
// immutable documents, history in order, revisions newest first in pages.
func TestMemoryStore(t *testing.T) {
	ctx := t.Context()
	s := registry.NewMemory()
	_, err := s.GetFunction(ctx, "guest", "f")
	require.ErrorIs(t, err, registry.ErrNotFound)
	require.ErrorIs(t, err, couch.ErrNotFound, "the cause stays in the chain")
	f, err := s.Update(ctx, "guest", "f", func(f *registry.Function) error { f.State = registry.Latest; return nil })
	require.NoError(t, err)
	require.NotEmpty(t, f.Rev)
	for n := 1; n <= 3; n++ {
		_, err := s.PutRevision(ctx, "guest", "f", registry.Revision{Revision: n})
		require.NoError(t, err)
	}
	_, err = s.PutRevision(ctx, "guest", "f", registry.Revision{Revision: 2})
	require.True(t, errors.Is(err, registry.ErrConflict), "%v", err)
	revs, err := s.Revisions(ctx, "guest", "f", 2, 0)
	require.NoError(t, err)
	require.Len(t, revs, 2)
	require.Equal(t, []int{3, 2}, []int{revs[0].Revision, revs[1].Revision})
	require.Nil(t, s.DB(), "no CouchDB behind it")
}
