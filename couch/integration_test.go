package couch_test

// Integration tests against a real pouchdb-server, started once for the test
// binary with the local stack's couchdb package. They are skipped with -short
// and when pouchdb-server is not installed (`make deps` installs it), except
// under CI (CI set), where that fails them.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kivik "github.com/go-kivik/kivik/v4"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/deploy/local/couchdb"
)

var pouch struct {
	once sync.Once
	dir  string
	srv  *couchdb.Server
	skip string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pouch.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		if err := pouch.srv.Stop(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		cancel()
	}
	if pouch.dir != "" {
		_ = os.RemoveAll(pouch.dir)
	}
	os.Exit(code)
}

// pouchURL returns the shared pouchdb-server's URL, starting it on first use.
func pouchURL(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping integration test in -short mode")
	}
	pouch.once.Do(func() {
		bin, err := couchdb.FindBin()
		if err != nil && os.Getenv("CI") != "" {
			pouch.err = fmt.Errorf("pouchdb-server is required under CI: %w", err)
			return
		}
		if err != nil {
			pouch.skip = fmt.Sprintf("pouchdb-server is not installed (run `make deps` or set $%s): %v", couchdb.BinEnv, err)
			return
		}
		if pouch.dir, pouch.err = os.MkdirTemp("", "couch-it-"); pouch.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		pouch.srv, pouch.err = couchdb.Start(ctx, couchdb.Options{Dir: pouch.dir, Bin: bin})
	})
	if pouch.skip != "" {
		t.Skip("skipping: " + pouch.skip)
	}
	require.NoError(t, pouch.err)
	return pouch.srv.URL()
}

var dbSeq atomic.Int64

// newDB returns a client and a fresh database for the test.
func newDB(t *testing.T) (*kivik.Client, *kivik.DB) {
	t.Helper()
	url := pouchURL(t)
	c, err := couch.NewClient(t.Context(), url, couch.ClientOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	name := fmt.Sprintf("it-%s-%d", strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")), dbSeq.Add(1))
	require.NoError(t, couch.EnsureDB(t.Context(), c, name))
	db := c.DB(name)
	t.Cleanup(func() { _ = db.Close() })
	return c, db
}

type change struct {
	id  string
	seq couch.Seq
	doc map[string]any
	at  time.Time
}

// follow reads a continuous feed into a channel until ctx ends.
func follow(ctx context.Context, t *testing.T, db *kivik.DB, since couch.Seq) <-chan change {
	t.Helper()
	feed := db.Changes(ctx, since.Since(), kivik.Params(map[string]any{
		"feed":         "continuous",
		"include_docs": true,
		"heartbeat":    1000,
	}))
	require.NoError(t, feed.Err())
	ch := make(chan change, 64)
	go func() {
		defer close(ch)
		defer feed.Close()
		for feed.Next() {
			c := change{id: feed.ID(), seq: couch.Seq(feed.Seq()), at: time.Now()}
			if err := feed.ScanDoc(&c.doc); err != nil {
				t.Errorf("scan change of %s: %v", c.id, err)
				return
			}
			select {
			case ch <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// await returns the first change of docID on ch within d.
func await(t *testing.T, ch <-chan change, docID string, d time.Duration) change {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case c, ok := <-ch:
			require.True(t, ok, "feed ended before %s arrived", docID)
			if c.id == docID {
				return c
			}
		case <-deadline:
			t.Fatalf("no change of %s within %s", docID, d)
		}
	}
}

func TestContinuousChanges(t *testing.T) {
	_, db := newDB(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	feed := follow(ctx, t, db, "")

	// The feed is live once it delivers a first write.
	_, err := db.Put(ctx, "warmup", map[string]any{"n": 1})
	require.NoError(t, err)
	warm := await(t, feed, "warmup", 10*time.Second)
	require.False(t, warm.seq.IsZero())
	t.Logf("pouchdb-server seq format: %q", warm.seq)

	t.Run("delivers a write within 500ms, with its doc", func(t *testing.T) {
		written := time.Now()
		_, err := db.Put(ctx, "guest/probe", map[string]any{"n": 2})
		require.NoError(t, err)
		c := await(t, feed, "guest/probe", 500*time.Millisecond)
		t.Logf("change arrived %s after the write returned", c.at.Sub(written))
		require.Equal(t, "guest/probe", c.doc["_id"])
		require.EqualValues(t, 2, c.doc["n"])
	})

	t.Run("resumes after an opaque seq", func(t *testing.T) {
		after := db.Changes(ctx, warm.seq.Since())
		require.NoError(t, after.Err())
		var ids []string
		for after.Next() {
			ids = append(ids, after.ID())
		}
		require.NoError(t, after.Err())
		require.Equal(t, []string{"guest/probe"}, ids)
		meta, err := after.Metadata()
		require.NoError(t, err)
		last := couch.Seq(meta.LastSeq)
		require.False(t, last.IsZero())

		// Nothing after the last seq; a continuous feed from there gets
		// only what comes next.
		next := follow(ctx, t, db, last)
		written := time.Now()
		_, err = db.Put(ctx, "later", map[string]any{"n": 3})
		require.NoError(t, err)
		c := await(t, next, "later", 5*time.Second)
		t.Logf("resumed feed delivered a write %s after it returned", c.at.Sub(written))
	})

	t.Run("raw seq values parse as Seq", func(t *testing.T) {
		var resp struct {
			Results []struct {
				ID  string    `json:"id"`
				Seq couch.Seq `json:"seq"`
			} `json:"results"`
			LastSeq couch.Seq `json:"last_seq"`
		}
		body := rawGet(t, http.DefaultTransport.(*http.Transport).Clone(), pouchURL(t)+"/"+db.Name()+"/_changes")
		require.NoError(t, json.Unmarshal(body, &resp))
		require.NotEmpty(t, resp.Results)
		require.Equal(t, resp.Results[len(resp.Results)-1].Seq, resp.LastSeq)
	})

	// pouchdb-server's quirk, which NewClient's transport avoids: when the
	// client accepts gzip (Go's default), nothing of a continuous feed
	// arrives until the response ends.
	t.Run("gzip holds a continuous feed back", func(t *testing.T) {
		tr := http.DefaultTransport.(*http.Transport).Clone() // asks for gzip
		defer tr.CloseIdleConnections()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, pouchURL(t)+"/"+db.Name()+"/_changes?feed=continuous&heartbeat=100&since=now", nil)
		require.NoError(t, err)
		resp, err := tr.RoundTrip(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.True(t, resp.Uncompressed, "response was not gzipped")
		got := make(chan struct{})
		go func() {
			_, _ = resp.Body.Read(make([]byte, 1))
			close(got)
		}()
		_, err = db.Put(ctx, "gzipped", map[string]any{"n": 4})
		require.NoError(t, err)
		select {
		case <-got:
			t.Fatal("pouchdb-server no longer buffers gzip output; the DisableCompression note may be outdated")
		case <-time.After(time.Second):
		}
	})
}

func rawGet(t *testing.T, tr http.RoundTripper, url string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

func TestAttachments(t *testing.T) {
	_, db := newDB(t)
	ctx := t.Context()
	cases := []struct {
		name, filename, contentType string
		size                        int
	}{
		{"binary code", "0f6c2a8e-5b1d-4c9e-a7f3-2d4b6e8c1a3f", "application/octet-stream", 512 << 10},
		{"text", "code.js", "text/plain", 100},
		{"empty", "empty.bin", "application/octet-stream", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := make([]byte, tc.size)
			_, _ = rand.Read(data)
			docID := "guest/" + tc.filename
			rev, err := db.Put(ctx, docID, map[string]any{"entityType": "action"})
			require.NoError(t, err)
			rev, err = db.PutAttachment(ctx, docID, &kivik.Attachment{
				Filename:    tc.filename,
				ContentType: tc.contentType,
				Content:     io.NopCloser(bytes.NewReader(data)),
			}, kivik.Rev(rev))
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(rev, "2-"), rev)

			att, err := db.GetAttachment(ctx, docID, tc.filename)
			require.NoError(t, err)
			defer att.Content.Close()
			got, err := io.ReadAll(att.Content)
			require.NoError(t, err)
			require.True(t, bytes.Equal(data, got), "attachment bytes differ (got %d, want %d)", len(got), len(data))
			require.True(t, strings.HasPrefix(att.ContentType, tc.contentType), att.ContentType)
		})
	}
}

// entity is the part of OpenWhisk's entity documents the tests write.
type entity map[string]any

func loadJSON(t *testing.T, path string) entity {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var e entity
	require.NoError(t, json.Unmarshal(b, &e))
	return e
}

// seedWhisks installs OpenWhisk's whisks design document and a few entities.
func seedWhisks(t *testing.T, db *kivik.DB) {
	t.Helper()
	ctx := t.Context()
	ddoc := loadJSON(t, "testdata/whisks_design_document_for_entities_db_v2.1.0.json")
	_, err := db.Put(ctx, ddoc["_id"].(string), ddoc)
	require.NoError(t, err)

	hello := loadJSON(t, "testdata/couch-action-inline.json")
	delete(hello, "_rev")
	packaged := entity{}
	for k, v := range hello {
		packaged[k] = v
	}
	packaged["_id"], packaged["namespace"], packaged["name"], packaged["updated"] = "guest/utils/hello2", "guest/utils", "hello2", 1714560000500.0
	other := entity{}
	for k, v := range hello {
		other[k] = v
	}
	other["_id"], other["namespace"] = "other/hello", "other"
	trigger := entity{"_id": "guest/t", "entityType": "trigger", "namespace": "guest", "name": "t", "updated": 1714560000100.0, "parameters": []any{}}
	for _, e := range []entity{hello, packaged, other, trigger} {
		_, err := db.Put(ctx, e["_id"].(string), e)
		require.NoError(t, err)
	}
}

func TestViewsAndQueries(t *testing.T) {
	_, db := newDB(t)
	ctx := t.Context()
	seedWhisks(t, db)

	t.Run("whisks actions view, newest first", func(t *testing.T) {
		// As OpenWhisk lists a namespace's actions.
		rows := db.Query(ctx, "_design/whisks.v2.1.0", "_view/actions", kivik.Params(map[string]any{
			"startkey":     []any{"guest", map[string]any{}},
			"endkey":       []any{"guest", 0},
			"descending":   true,
			"reduce":       false,
			"include_docs": false,
		}))
		var names []string
		for rows.Next() {
			var v struct {
				Namespace string `json:"namespace"`
				Name      string `json:"name"`
			}
			require.NoError(t, rows.ScanValue(&v))
			names = append(names, v.Namespace+"/"+v.Name)
		}
		require.NoError(t, rows.Err())
		require.Equal(t, []string{"guest/utils/hello2", "guest/hello"}, names)
	})

	t.Run("all_docs by id range", func(t *testing.T) {
		rows := db.AllDocs(ctx, kivik.Params(map[string]any{"startkey": "guest/", "endkey": "guest/\ufff0"}))
		var ids []string
		for rows.Next() {
			id, err := rows.ID()
			require.NoError(t, err)
			ids = append(ids, id)
		}
		require.NoError(t, rows.Err())
		require.Equal(t, []string{"guest/hello", "guest/t", "guest/utils/hello2"}, ids)
	})

	t.Run("find", func(t *testing.T) {
		// pouchdb-server 4.2.0 supports _find and _index (Mango).
		require.NoError(t, db.CreateIndex(ctx, "by-type", "type-ns", map[string]any{"fields": []string{"entityType", "namespace"}}))
		rows := db.Find(ctx, map[string]any{
			"selector": map[string]any{"entityType": "action", "namespace": "guest"},
			"fields":   []string{"_id"},
		})
		var ids []string
		for rows.Next() {
			var d struct {
				ID string `json:"_id"`
			}
			require.NoError(t, rows.ScanDoc(&d))
			ids = append(ids, d.ID)
		}
		require.NoError(t, rows.Err())
		require.Equal(t, []string{"guest/hello"}, ids)
	})

	t.Run("conflict is HTTP 409", func(t *testing.T) {
		_, err := db.Put(ctx, "guest/hello", map[string]any{"entityType": "action"})
		require.Error(t, err)
		require.Equal(t, http.StatusConflict, kivik.HTTPStatus(err))
		wrapped := fmt.Errorf("whiskdb: put action: %w", err)
		require.Equal(t, http.StatusConflict, kivik.HTTPStatus(wrapped))
	})

	t.Run("missing doc is HTTP 404", func(t *testing.T) {
		err := db.Get(ctx, "guest/nope").Err()
		require.Equal(t, http.StatusNotFound, kivik.HTTPStatus(err))
	})
}

func TestEnsureDBRace(t *testing.T) {
	url := pouchURL(t)
	c, err := couch.NewClient(t.Context(), url, couch.ClientOptions{})
	require.NoError(t, err)
	defer c.Close()
	name := fmt.Sprintf("it-race-%d", dbSeq.Add(1))
	errs := make(chan error, 8)
	for range cap(errs) {
		go func() { errs <- couch.EnsureDB(t.Context(), c, name) }()
	}
	for range cap(errs) {
		require.NoError(t, <-errs)
	}
	ok, err := c.DBExists(t.Context(), name)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, couch.EnsureDB(t.Context(), c, name), "existing database")
}
