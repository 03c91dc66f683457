package versions_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/versions"
)

// TestUsersOwnManagedNameIsNotOverwritten is issue 16 item 10: x@prod and
// x@2 are ordinary OpenWhisk names a user may take; fnmgr refuses (409,
// naming the action) to write an alias or version over one it did not
// write, even when the user copied fnmgr's annotations onto it.
func TestUsersOwnManagedNameIsNotOverwritten(t *testing.T) {
	e := newEnv(t, "couch")
	ctx := e.Ctx
	e.put("x", "function main(){return {v:1}}", 256)
	e.waitRevisions("x", 1)
	_, err := e.Ctl.Publish(ctx, "guest", "x", "", "t")
	require.NoError(t, err)

	own := "function main(){return {mine:true}}"
	for _, tc := range []struct{ name, suffix string }{{"plain", "prod"}, {"copied annotations", "prod"}, {"next version", "2"}} {
		a := entity.Action{Namespace: "guest", Name: "x@" + tc.suffix, Version: "0.0.1", Exec: entity.Exec{Kind: "nodejs:20"},
			Limits: entity.DefaultLimits(), Annotations: entity.KeyValues{}.With("exec", "nodejs:20")}
		if tc.name == "copied annotations" {
			a.Annotations = a.Annotations.With(versions.AnnotationOf, "x").With(versions.AnnotationAlias, "prod").
				With(versions.AnnotationVersion, 1)
		}
		e.PutAction(a, own)
		var err error
		if tc.suffix == "2" {
			e.put("x", "function main(){return {v:2}}", 256)
			e.waitRevisions("x", 2)
			_, err = e.Ctl.Publish(ctx, "guest", "x", "", "t")
		} else {
			_, err = e.Ctl.SetAlias(ctx, "guest", "x", "prod", []registry.Route{{Version: 1, Weight: 100}})
		}
		require.ErrorIs(t, err, registry.ErrConflict, tc.name)
		require.ErrorContains(t, err, "guest/x@"+tc.suffix, tc.name)
		require.Equal(t, own, e.code("guest/x@"+tc.suffix), "%s: the user's action is as it was", tc.name)
	}
	f, err := e.Reg.GetFunction(ctx, "guest", "x")
	require.NoError(t, err)
	require.Empty(t, f.Aliases, "a refused alias is not recorded")
	require.Len(t, f.Versions, 1, "a refused publish records no version")

	// fnmgr's own alias may be moved, and set again after it was removed.
	_, err = e.Ctl.SetAlias(ctx, "guest", "x", "live", []registry.Route{{Version: 1, Weight: 100}})
	require.NoError(t, err)
	_, err = e.Ctl.SetAlias(ctx, "guest", "x", "live", []registry.Route{{Version: 1, Weight: 100}})
	require.NoError(t, err)
	require.NoError(t, e.Ctl.DeleteAlias(ctx, "guest", "x", "live"))
	_, err = e.Ctl.SetAlias(ctx, "guest", "x", "live", []registry.Route{{Version: 1, Weight: 100}})
	require.NoError(t, err)
}
