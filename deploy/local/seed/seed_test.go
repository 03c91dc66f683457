package seed

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	kivik "github.com/go-kivik/kivik/v4"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/tests/contract"
	"github.com/fnmgr/fnmgr/tests/couchtest"
)

func TestMain(m *testing.M) { couchtest.Main(m) }

func TestDesignFilesAreOpenWhisks(t *testing.T) {
	for db, files := range designDocs {
		for _, f := range files {
			t.Run(db+"/"+f, func(t *testing.T) {
				want, err := os.ReadFile(filepath.Join(contract.Dir(t), f))
				require.NoError(t, err)
				got, err := designFiles.ReadFile(f)
				require.NoError(t, err)
				require.Equal(t, string(want), string(got), "embedded copy differs from the contract")
			})
		}
	}
}

func TestGuestAuth(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(contract.Dir(t), "couch-subject-guest.json"))
	require.NoError(t, err)
	var doc struct {
		Namespaces []struct{ Name, UUID, Key string } `json:"namespaces"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.Equal(t, doc.Namespaces[0].UUID+":"+doc.Namespaces[0].Key, GuestAuth)
}

func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	ctx := t.Context()
	client := couchtest.Client(t)
	prefix := couchtest.Prefix(t)
	o := Options{Client: client, DBPrefix: prefix}
	require.NoError(t, Run(ctx, o))

	t.Run("databases and design documents", func(t *testing.T) {
		for db, files := range designDocs {
			for _, f := range files {
				raw, err := designFiles.ReadFile(f)
				require.NoError(t, err)
				var want map[string]any
				require.NoError(t, json.Unmarshal(raw, &want))
				var got map[string]any
				require.NoError(t, client.DB(prefix+db).Get(ctx, want["_id"].(string)).ScanDoc(&got))
				delete(got, "_rev")
				require.Equal(t, want, got, "%s in %s", f, db)
			}
		}
	})

	t.Run("guest subject as in the contract", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(contract.Dir(t), "couch-subject-guest.json"))
		require.NoError(t, err)
		var want map[string]any
		require.NoError(t, json.Unmarshal(raw, &want))
		delete(want, "_rev")
		var got map[string]any
		require.NoError(t, client.DB(prefix+"subjects").Get(ctx, "guest").ScanDoc(&got))
		delete(got, "_rev")
		require.Equal(t, want, got)
	})

	t.Run("the identities view finds the guest key", func(t *testing.T) {
		rs := client.DB(prefix+"subjects").Query(ctx, "_design/subjects.v2.0.0", "_view/identities",
			kivik.Param("key", []string{GuestUUID, GuestKey}))
		defer rs.Close()
		require.True(t, rs.Next(), "no row: %v", rs.Err())
		id, _ := rs.ID()
		require.Equal(t, "guest", id)
	})

	t.Run("idempotent, restores design documents, keeps the guest", func(t *testing.T) {
		subjects := client.DB(prefix + "subjects")
		var guest map[string]any
		require.NoError(t, subjects.Get(ctx, "guest").ScanDoc(&guest))
		guest["blocked"] = true
		_, err := subjects.Put(ctx, "guest", guest)
		require.NoError(t, err)
		var ddoc map[string]any
		whisks := client.DB(prefix + "whisks")
		require.NoError(t, whisks.Get(ctx, "_design/whisks.v2.1.0").ScanDoc(&ddoc))
		ddoc["views"] = map[string]any{}
		_, err = whisks.Put(ctx, "_design/whisks.v2.1.0", ddoc)
		require.NoError(t, err)
		rev1, err := whisks.GetRev(ctx, "_design/snapshotFilters")
		require.NoError(t, err)

		require.NoError(t, Run(ctx, o))
		require.NoError(t, Run(ctx, o))

		require.NoError(t, whisks.Get(ctx, "_design/whisks.v2.1.0").ScanDoc(&ddoc))
		require.Contains(t, ddoc["views"], "actions")
		rev2, err := whisks.GetRev(ctx, "_design/snapshotFilters")
		require.NoError(t, err)
		require.Equal(t, rev1, rev2, "an identical design document is not rewritten")
		require.NoError(t, subjects.Get(ctx, "guest").ScanDoc(&guest))
		require.Equal(t, true, guest["blocked"])
	})

	t.Run("options", func(t *testing.T) {
		require.Error(t, Run(ctx, Options{}))
	})
}

// TestGuestThrottles checks the guest's limits document across runs: raised
// when asked, removed when not, and one an operator wrote left alone.
func TestGuestThrottles(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	ctx := t.Context()
	client := couchtest.Client(t)
	prefix := couchtest.Prefix(t)
	subjects := client.DB(prefix + "subjects")
	read := func() (map[string]any, bool) {
		var doc map[string]any
		err := subjects.Get(ctx, GuestNamespace+"/limits").ScanDoc(&doc)
		if kivik.HTTPStatus(err) == 404 {
			return nil, false
		}
		require.NoError(t, err)
		return doc, true
	}
	raised := &Throttles{InvocationsPerMinute: 100000, ConcurrentInvocations: 1000}

	require.NoError(t, Run(ctx, Options{Client: client, DBPrefix: prefix, GuestThrottles: raised}))
	doc, ok := read()
	require.True(t, ok)
	require.EqualValues(t, 100000, doc["invocationsPerMinute"])
	require.EqualValues(t, 1000, doc["concurrentInvocations"])
	require.NotContains(t, doc, "firesPerMinute", "fires keep the deployment's throttle")

	require.NoError(t, Run(ctx, Options{Client: client, DBPrefix: prefix, GuestThrottles: raised}), "idempotent")
	require.NoError(t, Run(ctx, Options{Client: client, DBPrefix: prefix}))
	_, ok = read()
	require.False(t, ok, "a profile without the raise removes the seed's document")

	// An operator's document (wskadmin limits set) is never touched.
	_, err := subjects.Put(ctx, GuestNamespace+"/limits", map[string]any{"invocationsPerMinute": 7})
	require.NoError(t, err)
	require.NoError(t, Run(ctx, Options{Client: client, DBPrefix: prefix, GuestThrottles: raised}))
	doc, ok = read()
	require.True(t, ok)
	require.EqualValues(t, 7, doc["invocationsPerMinute"])
	require.NoError(t, Run(ctx, Options{Client: client, DBPrefix: prefix}))
	_, ok = read()
	require.True(t, ok)
}
