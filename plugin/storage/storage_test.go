package storage_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/storage"
	"github.com/fnmgr/fnmgr/tests/couchtest"
)

func TestMain(m *testing.M) { couchtest.Main(m) }

func backends(t *testing.T) map[string]storage.Store {
	c := couchtest.Client(t)
	b, err := storage.NewBucket(t.TempDir())
	require.NoError(t, err)
	return map[string]storage.Store{
		"couch":  storage.NewCouch(couchtest.DB(t, c, couchtest.Prefix(t)+"artifacts")),
		"bucket": b,
	}
}

func TestStoreOncePerDigest(t *testing.T) {
	ctx := context.Background()
	zip := append([]byte("PK\x03\x04"), bytes.Repeat([]byte{0, 1, 2, 0xff}, 50_000)...)
	cases := []struct {
		name string
		ref  storage.Ref
		data []byte
	}{
		{"javascript", storage.Ref{Account: "guest", Function: "hello", Version: "1", Kind: "nodejs:20"}, []byte("function main(){}")},
		{"binary zip", storage.Ref{Account: "guest", Function: "pkg/zipped", Version: "2", Kind: "python:3", Binary: true}, zip},
		{"empty", storage.Ref{Account: "guest", Function: "empty", Kind: "nodejs:20"}, []byte{}},
	}
	for name, st := range backends(t) {
		t.Run(name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					d, err := st.Put(ctx, c.ref, c.data)
					require.NoError(t, err)
					require.Equal(t, entity.Digest(c.data), d)
					again, err := st.Put(ctx, c.ref, c.data)
					require.NoError(t, err, "storing the same bytes twice is a no-op")
					require.Equal(t, d, again)
					got, err := st.Get(ctx, d)
					require.NoError(t, err)
					require.True(t, bytes.Equal(c.data, got), "byte-identical")
					ok, err := st.Has(ctx, d)
					require.NoError(t, err)
					require.True(t, ok)
				})
			}
			_, err := st.Get(ctx, entity.Digest([]byte("never stored")))
			require.True(t, errors.Is(err, storage.ErrNotFound), "unknown digest: %v", err)
			_, err = st.Get(ctx, "md5-nope")
			require.Error(t, err)
		})
	}
}

func TestBucketLayoutAndSingleCopy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := storage.NewBucket(dir)
	require.NoError(t, err)
	code := []byte("def main(args):\n    return {}\n")
	for _, v := range []string{"1", "2"} {
		_, err := b.Put(ctx, storage.Ref{Account: "guest", Function: "demo/hello", Version: v, Kind: "python:3"}, code)
		require.NoError(t, err)
	}
	one, err := os.Stat(filepath.Join(dir, "guest", "demo", "hello", "1", "function.py"))
	require.NoError(t, err)
	two, err := os.Stat(filepath.Join(dir, "guest", "demo", "hello", "2", "function.py"))
	require.NoError(t, err)
	require.True(t, os.SameFile(one, two), "the same code published twice is stored once")
	blobs, err := os.ReadDir(filepath.Join(dir, ".blobs", "sha256"))
	require.NoError(t, err)
	require.Len(t, blobs, 1)

	require.NoError(t, b.Delete(ctx, storage.Ref{Account: "guest", Function: "demo/hello"}, entity.Digest(code)))
	_, err = os.Stat(filepath.Join(dir, "guest", "demo", "hello", "1", "function.py"))
	require.True(t, os.IsNotExist(err))
}

func TestCouchStoresOneDocumentPerDigest(t *testing.T) {
	ctx := context.Background()
	c := couchtest.Client(t)
	db := couchtest.DB(t, c, couchtest.Prefix(t)+"artifacts")
	st := storage.NewCouch(db)
	for _, v := range []string{"1", "2", "3"} {
		_, err := st.Put(ctx, storage.Ref{Account: "guest", Function: "f", Version: v, Kind: "nodejs:20"}, []byte("same"))
		require.NoError(t, err)
	}
	stats, err := db.Stats(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, stats.DocCount)
}

// TestCouchReadsAttachedSmallCode: artifacts written before small code
// was kept inline (every artifact an attachment) still read back.
func TestCouchReadsAttachedSmallCode(t *testing.T) {
	ctx := context.Background()
	db := couchtest.DB(t, couchtest.Client(t), couchtest.Prefix(t)+"artifacts")
	code := []byte("function main(){ return {old: true} }")
	d := entity.Digest(code)
	_, err := db.Put(ctx, d, map[string]any{"_id": d, "type": "artifact", "size": len(code), "refs": []string{"guest/old/latest/function.js"},
		"_attachments": map[string]any{"code": map[string]any{"content_type": "application/octet-stream", "data": code}}})
	require.NoError(t, err)
	st := storage.NewCouch(db)
	got, err := st.Get(ctx, d)
	require.NoError(t, err)
	require.Equal(t, code, got)
	ok, err := st.Has(ctx, d)
	require.NoError(t, err)
	require.True(t, ok)
}
