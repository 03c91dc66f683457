package couch_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	kivik "github.com/go-kivik/kivik/v4"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch"
)

type batchDoc struct {
	ID  string `json:"_id"`
	Rev string `json:"_rev,omitempty"`
	N   int    `json:"n"`
}

// gatedProxy forwards to the real server, counting requests by path
// suffix; while gate is set, the first request whose path ends in hold
// waits for it to be closed.
type gatedProxy struct {
	mu    sync.Mutex
	count map[string]int
	hold  string
	gate  chan struct{}
}

func newGatedProxy(t *testing.T, target string) (*gatedProxy, string) {
	u, err := url.Parse(target)
	require.NoError(t, err)
	p := &gatedProxy{count: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		key := r.Method + " " + r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		p.count[key]++
		gate := p.gate
		if gate != nil && strings.HasSuffix(r.URL.Path, p.hold) {
			p.gate = nil
		} else {
			gate = nil
		}
		p.mu.Unlock()
		if gate != nil {
			<-gate
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func (p *gatedProxy) requests(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count[key]
}

func (p *gatedProxy) holdNext(suffix string) chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hold, p.gate = suffix, make(chan struct{})
	return p.gate
}

// batcherDB returns a Batcher over a fresh database reached through a
// gated proxy.
func batcherDB(t *testing.T, o ...couch.BatcherOptions) (*couch.Batcher, *kivik.DB, *gatedProxy) {
	_, direct := newDB(t)
	p, proxied := newGatedProxy(t, pouchURL(t))
	c, err := couch.NewClient(t.Context(), proxied, couch.ClientOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return couch.NewBatcher(c.DB(direct.Name()), append(o, couch.BatcherOptions{})[0]), direct, p
}

// TestBatcherGroupsConcurrentCalls holds the first _bulk_docs request
// until every other caller is queued: they must all go in one more
// request, each with its own outcome.
func TestBatcherGroupsConcurrentCalls(t *testing.T) {
	b, db, p := batcherDB(t)
	ctx := t.Context()
	// A document to conflict with.
	_, err := db.Put(ctx, "taken", batchDoc{ID: "taken", N: -1})
	require.NoError(t, err)

	const n = 40
	release := p.holdNext("_bulk_docs")
	revs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("d%02d", i)
			if i == n-1 {
				id = "taken" // no _rev: a conflict
			}
			revs[i], errs[i] = b.Put(ctx, id, batchDoc{ID: id, N: i})
		}()
	}
	start(0)
	require.Eventually(t, func() bool { return p.requests("POST _bulk_docs") == 1 }, 10*time.Second, time.Millisecond)
	for i := 1; i < n; i++ {
		start(i)
	}
	require.Eventually(t, func() bool { q, _ := couch.Queued(b); return q == n-1 }, 10*time.Second, time.Millisecond)
	close(release)
	wg.Wait()

	require.Equal(t, 2, p.requests("POST _bulk_docs"), "the queued calls go in one request")
	for i := range n - 1 {
		require.NoError(t, errs[i], "call %d", i)
		require.True(t, strings.HasPrefix(revs[i], "1-"), "call %d: %q", i, revs[i])
		var got batchDoc
		require.NoError(t, db.Get(ctx, fmt.Sprintf("d%02d", i)).ScanDoc(&got))
		require.Equal(t, i, got.N)
	}
	require.Equal(t, http.StatusConflict, kivik.HTTPStatus(errs[n-1]), "a conflict is that call's own error: %v", errs[n-1])
}

func TestBatcherGet(t *testing.T) {
	b, db, p := batcherDB(t)
	ctx := t.Context()
	rev, err := db.Put(ctx, "live", batchDoc{ID: "live", N: 7})
	require.NoError(t, err)
	_, err = db.Put(ctx, "gone", batchDoc{ID: "gone"})
	require.NoError(t, err)
	var g batchDoc
	require.NoError(t, db.Get(ctx, "gone").ScanDoc(&g))
	_, err = db.Delete(ctx, "gone", g.Rev)
	require.NoError(t, err)

	release := p.holdNext("_all_docs")
	type result struct {
		doc batchDoc
		err error
	}
	ids := []string{"live", "live", "missing", "gone", "live"}
	out := make([]result, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].err = b.Get(ctx, id, &out[i].doc)
		}()
		if i == 0 {
			require.Eventually(t, func() bool { return p.requests("POST _all_docs") == 1 }, 10*time.Second, time.Millisecond)
		}
	}
	require.Eventually(t, func() bool { _, q := couch.Queued(b); return q == len(ids)-1 }, 10*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	require.Equal(t, 2, p.requests("POST _all_docs"))
	for i, id := range ids {
		switch id {
		case "live":
			require.NoError(t, out[i].err)
			require.Equal(t, batchDoc{ID: "live", Rev: rev, N: 7}, out[i].doc)
		default:
			require.Equal(t, http.StatusNotFound, kivik.HTTPStatus(out[i].err), "%s: %v", id, out[i].err)
		}
	}
}

func TestBatcherRejectsMismatchedID(t *testing.T) {
	b, _, p := batcherDB(t)
	_, err := b.Put(t.Context(), "a", batchDoc{ID: "b"})
	require.ErrorContains(t, err, `_id is "b"`)
	require.Zero(t, p.requests("POST _bulk_docs"), "nothing is sent")
}

// TestBatcherCallerGivesUp: a caller whose context ends while queued
// returns at once, and its document is not sent.
func TestBatcherCallerGivesUp(t *testing.T) {
	b, db, p := batcherDB(t)
	release := p.holdNext("_bulk_docs")
	first := make(chan error, 1)
	go func() {
		_, err := b.Put(t.Context(), "first", batchDoc{ID: "first"})
		first <- err
	}()
	require.Eventually(t, func() bool { return p.requests("POST _bulk_docs") == 1 }, 10*time.Second, time.Millisecond)
	ctx, cancel := context.WithCancel(t.Context())
	quit := make(chan error, 1)
	go func() {
		_, err := b.Put(ctx, "quitter", batchDoc{ID: "quitter"})
		quit <- err
	}()
	require.Eventually(t, func() bool { q, _ := couch.Queued(b); return q == 1 }, 10*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-quit, context.Canceled)
	close(release)
	require.NoError(t, <-first)
	// The next call goes out alone: the quitter was dropped.
	_, err := b.Put(t.Context(), "next", batchDoc{ID: "next"})
	require.NoError(t, err)
	require.Equal(t, 2, p.requests("POST _bulk_docs"))
	err = db.Get(t.Context(), "quitter").ScanDoc(&batchDoc{})
	require.Equal(t, http.StatusNotFound, kivik.HTTPStatus(err), "the abandoned document was not written")
}

// TestBatcherSplitsLargeBatches: queued writes above MaxBytes go in
// several requests, and every one is written.
func TestBatcherSplitsLargeBatches(t *testing.T) {
	b, db, p := batcherDB(t, couch.BatcherOptions{MaxBytes: 10 << 10})
	type big struct {
		ID  string `json:"_id"`
		Pad string `json:"pad"`
	}
	put := func(i int) error {
		id := fmt.Sprintf("big%d", i)
		_, err := b.Put(t.Context(), id, big{ID: id, Pad: strings.Repeat("x", 4<<10)})
		return err
	}
	release := p.holdNext("_bulk_docs")
	errs := make(chan error, 9)
	go func() { errs <- put(0) }()
	require.Eventually(t, func() bool { return p.requests("POST _bulk_docs") == 1 }, 10*time.Second, time.Millisecond)
	for i := 1; i <= 8; i++ {
		go func() { errs <- put(i) }()
	}
	require.Eventually(t, func() bool { q, _ := couch.Queued(b); return q == 8 }, 10*time.Second, time.Millisecond)
	close(release)
	for range 9 {
		require.NoError(t, <-errs)
	}
	require.Equal(t, 1+4, p.requests("POST _bulk_docs"), "two 4 KiB documents per 10 KiB request")
	for i := range 9 {
		var d big
		require.NoError(t, db.Get(t.Context(), fmt.Sprintf("big%d", i)).ScanDoc(&d))
		require.Len(t, d.Pad, 4<<10)
	}
}

// TestBatcherOneWritePerDocument: two queued writes of one document go in
// separate requests, so each gets its own answer (the second conflicts).
func TestBatcherOneWritePerDocument(t *testing.T) {
	b, db, p := batcherDB(t)
	release := p.holdNext("_bulk_docs")
	errs := make(chan error, 3)
	go func() { _, err := b.Put(t.Context(), "first", batchDoc{ID: "first"}); errs <- err }()
	require.Eventually(t, func() bool { return p.requests("POST _bulk_docs") == 1 }, 10*time.Second, time.Millisecond)
	revs := make(chan string, 2)
	for i := range 2 {
		go func() {
			rev, err := b.Put(t.Context(), "same", batchDoc{ID: "same", N: i})
			revs <- rev
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { q, _ := couch.Queued(b); return q == 2 }, 10*time.Second, time.Millisecond)
	close(release)
	var failed, ok int
	for range 3 {
		err := <-errs
		switch {
		case err == nil:
			ok++
		case kivik.HTTPStatus(err) == http.StatusConflict:
			failed++
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	require.Equal(t, 2, ok)
	require.Equal(t, 1, failed)
	require.Equal(t, 3, p.requests("POST _bulk_docs"))
	var got batchDoc
	require.NoError(t, db.Get(t.Context(), "same").ScanDoc(&got))
	winner := <-revs + <-revs
	require.Contains(t, winner, got.Rev, "the call told it succeeded wrote the stored revision")
}

func TestBatcherChecksTheID(t *testing.T) {
	b, db, _ := batcherDB(t)
	for _, tc := range []struct {
		name string
		doc  any
		ok   bool
	}{
		{"_id first", batchDoc{ID: "a"}, true},
		{"_id later", map[string]any{"n": 1, "_id": "a2"}, true},
		{"another _id first", batchDoc{ID: "a3x"}, false},
		{"a prefix of the id", batchDoc{ID: "a"}, false},
		{"no _id", map[string]any{"n": 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := map[string]string{"_id first": "a", "_id later": "a2", "another _id first": "a3", "a prefix of the id": "ab", "no _id": "a4"}[tc.name]
			_, err := b.Put(t.Context(), id, tc.doc)
			if tc.ok {
				require.NoError(t, err)
				require.NoError(t, db.Get(t.Context(), id).Err())
				return
			}
			require.ErrorContains(t, err, "the document's _id is")
		})
	}
}
