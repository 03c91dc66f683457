package whiskdb_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/tests/contract"
	"github.com/fnmgr/fnmgr/tests/couchtest"
)

func TestMain(m *testing.M) { couchtest.Main(m) }

func newStore(t *testing.T) *whiskdb.Store {
	t.Helper()
	c := couchtest.Client(t)
	return whiskdb.New(couchtest.DB(t, c, couchtest.Prefix(t)+"whisks"))
}

// sample reads a contract sample as raw JSON and as a document.
func sample(t *testing.T, name string) (json.RawMessage, map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(contract.Dir(t), name))
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	return raw, doc
}

// rawDoc reads document id as CouchDB stores it.
func rawDoc(t *testing.T, s *whiskdb.Store, id string) map[string]any {
	t.Helper()
	var doc map[string]any
	require.NoError(t, s.DB().Get(t.Context(), id).ScanDoc(&doc))
	return doc
}

func execCode(t *testing.T, doc map[string]any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(doc["exec"].(map[string]any)["code"])
	require.NoError(t, err)
	return b
}

// TestAttachmentEncodingContract: code under 16 KiB is stored as
// OpenWhisk's CouchDbRestStore stores it, inside the attachment name
// ("mem:<base64>") with its length and sha256 digest, exactly as in the
// contract sample couch-action-attached-mem.json; larger code goes to a
// real attachment named by the "couch:<uuid>" reference, written after the
// document (two revisions), as in couch-action-attached-couch.json.
// (OpenWhisk: common/scala/src/main/scala/org/apache/openwhisk/core/database/AttachmentSupport.scala,
// whisk.db.max-inline-size in common/scala/src/main/resources/application.conf.)
func TestAttachmentEncodingContract(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()

	t.Run("mem", func(t *testing.T) {
		_, want := sample(t, "couch-action-attached-mem.json")
		ref := want["exec"].(map[string]any)["code"].(map[string]any)
		code, err := entity.DecodeMemName(ref["attachmentName"].(string))
		require.NoError(t, err)

		a := entity.Action{Namespace: "guest", Name: "hello", Exec: entity.Exec{Kind: "nodejs:20"}}
		stored, err := s.PutAction(ctx, a, code, entity.TextContentType)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(stored.Rev, "1-"), "one write: %s", stored.Rev)
		got := rawDoc(t, s, "guest/hello")
		require.Empty(t, contract.Equal(execCode(t, want), execCode(t, got)), "exec.code as OpenWhisk writes it")
		require.NotContains(t, got, "_attachments")

		back, err := s.ActionCode(ctx, stored)
		require.NoError(t, err)
		require.Equal(t, code, back)
		require.Equal(t, ref["digest"], entity.Digest(back))
	})

	t.Run("couch", func(t *testing.T) {
		_, want := sample(t, "couch-action-attached-couch.json")
		wantRef := want["exec"].(map[string]any)["code"].(map[string]any)
		code := bytes.Repeat([]byte{0x50, 0x4b, 0x03, 0x04}, entity.MaxInlineSize/4) // exactly the limit: an attachment
		a := entity.Action{Namespace: "guest", Name: "bigzip", Exec: entity.Exec{Kind: "nodejs:20", Binary: true}}
		stored, err := s.PutAction(ctx, a, code, entity.BinaryContentType)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(stored.Rev, "2-"), "the document, then its attachment: %s", stored.Rev)

		got := rawDoc(t, s, "guest/bigzip")
		gotRef := got["exec"].(map[string]any)["code"].(map[string]any)
		keys := func(m map[string]any) []string {
			var out []string
			for k := range m {
				out = append(out, k)
			}
			return out
		}
		require.ElementsMatch(t, keys(wantRef), keys(gotRef), "the reference has the sample's fields only")
		require.Equal(t, wantRef["attachmentType"], gotRef["attachmentType"])
		name, ok := strings.CutPrefix(gotRef["attachmentName"].(string), entity.CouchPrefix)
		require.True(t, ok, "a couch: reference: %v", gotRef["attachmentName"])
		att, ok := got["_attachments"].(map[string]any)[name].(map[string]any)
		require.True(t, ok, "the attachment is named by the reference's uuid: %v", got["_attachments"])
		require.Equal(t, entity.BinaryContentType, att["content_type"])
		require.EqualValues(t, len(code), att["length"])

		back, err := s.ActionCode(ctx, stored)
		require.NoError(t, err)
		require.Equal(t, code, back)
	})

	t.Run("samples read back", func(t *testing.T) {
		for _, name := range []string{"couch-action-attached-mem.json", "couch-action-inline.json"} {
			raw, doc := sample(t, name)
			var a entity.Action
			require.NoError(t, json.Unmarshal(raw, &a))
			delete(doc, "_rev")
			id := doc["_id"].(string) + "-" + strings.TrimSuffix(name, ".json")
			doc["_id"] = id
			rev, err := s.Put(ctx, id, doc)
			require.NoError(t, err)
			got, err := s.GetAction(ctx, id, rev)
			require.NoError(t, err)
			code, err := s.ActionCode(ctx, got)
			require.NoError(t, err, name)
			require.Contains(t, string(code), "function main(params)", name)
		}
	})

	t.Run("not found", func(t *testing.T) {
		_, err := s.GetAction(ctx, "guest/nothing", "")
		require.ErrorIs(t, err, whiskdb.ErrNotFound)
		_, err = s.PutAction(ctx, entity.Action{Namespace: "guest", Name: "hello", Exec: entity.Exec{Kind: "nodejs:20"}}, []byte("x"), "")
		require.ErrorIs(t, err, whiskdb.ErrConflict, "a create over an existing action conflicts")
	})
}
