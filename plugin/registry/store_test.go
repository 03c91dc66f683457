package registry_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/tests/couchtest"
)

func TestMain(m *testing.M) { couchtest.Main(m) }

func newStore(t *testing.T) *registry.Store {
	return registry.New(couchtest.DB(t, couchtest.Client(t), couchtest.Prefix(t)+"registry"))
}

// TestFunctionWritesSurviveAnOutsideWriter: the Store remembers the
// function documents it wrote; a write by anyone else makes its next
// write conflict, and the update is then applied to the stored document,
// never over it.
func TestFunctionWritesSurviveAnOutsideWriter(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	f, err := s.Create(ctx, "guest", "fn", func(f *registry.Function) error { f.Revisions = 1; return nil })
	require.NoError(t, err)

	// Someone else (another process, an operator) changes the document,
	// straight in the database.
	stored := func() registry.Function {
		var f registry.Function
		require.NoError(t, s.DB().Get(ctx, registry.FunctionID("guest", "fn")).ScanDoc(&f))
		return f
	}
	outside := func() {
		f := stored()
		f.Reason = "outside"
		_, err := s.DB().Put(ctx, f.ID, f)
		require.NoError(t, err)
	}
	outside()

	for _, tc := range []struct {
		name  string
		apply func(fn func(*registry.Function) error) (registry.Function, error)
	}{
		{"UpdateKnown from a stale copy", func(fn func(*registry.Function) error) (registry.Function, error) {
			return s.UpdateKnown(ctx, f, fn)
		}},
		{"Update", func(fn func(*registry.Function) error) (registry.Function, error) {
			return s.Update(ctx, "guest", "fn", fn)
		}},
		{"Create of an existing function", func(fn func(*registry.Function) error) (registry.Function, error) {
			return s.Create(ctx, "guest", "fn", fn)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := stored()
			got, err := tc.apply(func(f *registry.Function) error { f.Revisions++; return nil })
			require.NoError(t, err)
			require.Equal(t, before.Revisions+1, got.Revisions)
			require.Equal(t, "outside", got.Reason, "the outside write is kept")
			after := stored()
			require.Equal(t, got.Rev, after.Rev)
			require.Equal(t, got.Revisions, after.Revisions)
			outside() // the next case starts from a stale copy again
		})
	}
}

// TestGetFunctionReturnsPrivateCopies: a caller changing what it read
// changes nothing another caller reads.
func TestGetFunctionReturnsPrivateCopies(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	_, err := s.Create(ctx, "guest", "fn", func(f *registry.Function) error {
		f.Aliases["prod"] = registry.Alias{}
		f.Versions = append(f.Versions, registry.VersionRef{Version: 1})
		return nil
	})
	require.NoError(t, err)
	a, err := s.GetFunction(ctx, "guest", "fn")
	require.NoError(t, err)
	delete(a.Aliases, "prod")
	a.Versions[0].Version = 99
	b, err := s.GetFunction(ctx, "guest", "fn")
	require.NoError(t, err)
	require.Contains(t, b.Aliases, "prod")
	require.Equal(t, 1, b.Versions[0].Version)
}

func TestDeletedFunctionIsNotFound(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	f, err := s.Create(ctx, "guest", "fn", func(*registry.Function) error { return nil })
	require.NoError(t, err)
	require.NoError(t, s.DeleteDoc(ctx, f.ID, f.Rev))
	_, err = s.GetFunction(ctx, "guest", "fn")
	require.ErrorIs(t, err, registry.ErrNotFound)
}
