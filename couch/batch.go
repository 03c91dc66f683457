package couch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-kivik/kivik/v4"
)

// Batcher group-commits single-document reads and writes of one database:
// calls that arrive while a request of the same kind is in flight are sent
// together, writes as one _bulk_docs request and reads as one _all_docs
// request with keys, when that request returns. A lone call goes out at
// once, so a quiet database sees the latency of one request; a busy one
// sees far fewer requests than calls (CouchDB's cost is mostly per
// request).
//
// Each call still has its own outcome: a conflict or a missing document is
// that call's error, and a call returns only once its document is written
// (or read), so callers keep their own order of writes. Documents of one
// batch are independent: _bulk_docs is not a transaction.
type Batcher struct {
	db   *kivik.DB
	puts group[putCall]
	gets group[getCall]
}

// BatcherOptions configure a Batcher.
type BatcherOptions struct {
	// MaxBatch bounds the documents of one request (default 200), and
	// MaxBytes the encoded documents of one write request (default 8 MiB;
	// a larger document goes alone).
	MaxBatch int
	MaxBytes int
	// Timeout bounds one batch request (default 60s). A caller whose
	// context ends first returns at once; its write may still be applied.
	Timeout time.Duration
}

// NewBatcher returns a Batcher over db.
func NewBatcher(db *kivik.DB, o BatcherOptions) *Batcher {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 200
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 8 << 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	b := &Batcher{db: db}
	b.puts = group[putCall]{max: o.MaxBatch, maxBytes: o.MaxBytes, timeout: o.Timeout, flush: b.flushPuts,
		size: func(c *putCall) int { return len(c.doc) }, key: func(c *putCall) string { return c.id }}
	b.gets = group[getCall]{max: o.MaxBatch, timeout: o.Timeout, flush: b.flushGets}
	return b
}

// DB returns the database.
func (b *Batcher) DB() *kivik.DB { return b.db }

// StatusError is a per-document failure of a batch, with the HTTP status
// CouchDB gives the same failure of a single-document request, so that
// Classify (and kivik.HTTPStatus) reads it.
type StatusError struct {
	Status int
	ID     string
	Reason string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("couch: %s: %s (%d)", e.ID, e.Reason, e.Status)
}

// HTTPStatus implements kivik's status interface.
func (e *StatusError) HTTPStatus() int { return e.Status }

type putCall struct {
	id  string
	doc json.RawMessage
	rev string
	err error
}

// Put writes doc, whose "_id" must be id (and whose "_rev" is the revision
// it replaces, if any), and returns its new revision.
func (b *Batcher) Put(ctx context.Context, id string, doc any) (string, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("couch: encode %s: %w", id, err)
	}
	if err := checkID(raw, id); err != nil {
		return "", err
	}
	c := &putCall{id: id, doc: raw}
	if err := b.puts.do(ctx, c); err != nil {
		return "", Classify(err)
	}
	return c.rev, Classify(c.err)
}

// checkID checks that the encoded document raw has "_id" id: at once when
// it comes first (as fnmgr's document types put it), else by decoding.
func checkID(raw json.RawMessage, id string) error {
	quoted, err := json.Marshal(id)
	if err != nil {
		return fmt.Errorf("couch: put %s: %w", id, err)
	}
	if bytes.HasPrefix(raw, append([]byte(`{"_id":`), quoted...)) {
		return nil
	}
	var head struct {
		ID string `json:"_id"`
	}
	if err := json.Unmarshal(raw, &head); err != nil || head.ID != id {
		return fmt.Errorf("couch: put %s: the document's _id is %q", id, head.ID)
	}
	return nil
}

func (b *Batcher) flushPuts(ctx context.Context, calls []*putCall) {
	docs := make([]any, len(calls))
	for i, c := range calls {
		docs[i] = c.doc
	}
	res, err := b.db.BulkDocs(ctx, docs)
	if err != nil {
		for _, c := range calls {
			c.err = fmt.Errorf("couch: put %s: %w", c.id, err)
		}
		return
	}
	// Results are matched by id (pouchdb-server does not always answer
	// in request order); a document named twice takes them in order.
	byID := make(map[string][]kivik.BulkResult, len(res))
	for _, r := range res {
		byID[r.ID] = append(byID[r.ID], r)
	}
	for _, c := range calls {
		rs := byID[c.id]
		if len(rs) == 0 {
			c.err = fmt.Errorf("couch: put %s: no result in _bulk_docs' answer", c.id)
			continue
		}
		r := rs[0]
		byID[c.id] = rs[1:]
		if r.Error != nil {
			c.err = fmt.Errorf("couch: put %s: %w", c.id, r.Error)
			continue
		}
		c.rev = r.Rev
	}
}

type getCall struct {
	id  string
	doc json.RawMessage
	err error
}

// Get reads document id into v (as kivik's ScanDoc would). A missing or
// deleted document is ErrNotFound (status 404).
func (b *Batcher) Get(ctx context.Context, id string, v any) error {
	c := &getCall{id: id}
	if err := b.gets.do(ctx, c); err != nil {
		return Classify(err)
	}
	if c.err != nil {
		return Classify(c.err)
	}
	if err := json.Unmarshal(c.doc, v); err != nil {
		return fmt.Errorf("couch: decode %s: %w", id, err)
	}
	return nil
}

func (b *Batcher) flushGets(ctx context.Context, calls []*getCall) {
	keys := make([]string, 0, len(calls))
	seen := make(map[string]bool, len(calls))
	for _, c := range calls {
		if !seen[c.id] {
			seen[c.id] = true
			keys = append(keys, c.id)
		}
	}
	docs, err := b.allDocs(ctx, keys)
	for _, c := range calls {
		switch d, ok := docs[c.id]; {
		case err != nil:
			c.err = fmt.Errorf("couch: get %s: %w", c.id, err)
		case !ok:
			c.err = &StatusError{Status: http.StatusNotFound, ID: c.id, Reason: "not_found"}
		default:
			c.doc = d
		}
	}
}

// allDocs reads the live documents among keys.
func (b *Batcher) allDocs(ctx context.Context, keys []string) (map[string]json.RawMessage, error) {
	rows := b.db.AllDocs(ctx, kivik.Params(map[string]any{"keys": keys, "include_docs": true}))
	defer rows.Close()
	out := make(map[string]json.RawMessage, len(keys))
	for rows.Next() {
		var key string
		if err := rows.ScanKey(&key); err != nil {
			continue // an error row: the key is not in the database
		}
		var doc json.RawMessage
		if err := rows.ScanDoc(&doc); err != nil || len(doc) == 0 || bytes.Equal(doc, []byte("null")) {
			continue // no document, or a deleted one
		}
		out[key] = doc
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// group sends the calls queued while one flush is in flight as the next
// flush: at most one request of a kind at a time per Batcher.
type group[T any] struct {
	max      int
	maxBytes int
	size     func(*T) int    // nil: calls have no size
	key      func(*T) string // nil: calls may share a batch whatever they name
	timeout  time.Duration
	flush    func(ctx context.Context, calls []*T)

	mu      sync.Mutex
	queue   []*entry[T]
	running bool
}

type entry[T any] struct {
	call *T
	ctx  context.Context
	done chan struct{}
}

// errBatchAbandoned is returned to a caller whose context ended while its
// call waited in the queue or was in flight.
var errBatchAbandoned = errors.New("couch: batched call abandoned")

func (g *group[T]) do(ctx context.Context, c *T) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e := &entry[T]{call: c, ctx: ctx, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, e)
	if !g.running {
		g.running = true
		go g.loop()
	}
	g.mu.Unlock()
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", errBatchAbandoned, ctx.Err())
	}
}

// take removes the next batch from the queue (g.mu held): calls in queue
// order up to max and maxBytes (at least one), at most one per key, the
// others staying queued in their order.
func (g *group[T]) take() []*entry[T] {
	var batch []*entry[T]
	keys := map[string]bool{}
	rest := g.queue[:0]
	total := 0
	for _, e := range g.queue {
		k := ""
		if g.key != nil {
			k = g.key(e.call)
		}
		full := len(batch) == g.max
		if !full && g.size != nil && len(batch) > 0 && total+g.size(e.call) > g.maxBytes {
			full = true
		}
		if full || (k != "" && keys[k]) {
			rest = append(rest, e)
			continue
		}
		keys[k] = true
		if g.size != nil {
			total += g.size(e.call)
		}
		batch = append(batch, e)
	}
	clear(g.queue[len(rest):])
	g.queue = rest
	return batch
}

func (g *group[T]) loop() {
	for {
		g.mu.Lock()
		// Calls whose callers gave up while queued are not sent.
		live := g.queue[:0]
		for _, e := range g.queue {
			if e.ctx.Err() == nil {
				live = append(live, e)
			}
		}
		g.queue = live
		if len(g.queue) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		batch := g.take()
		g.mu.Unlock()

		n := len(batch)
		calls := make([]*T, n)
		for i, e := range batch {
			calls[i] = e.call
		}
		// The batch outlives any one caller: it runs under the first
		// caller's values without its cancellation, bounded in time.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), g.timeout)
		g.flush(ctx, calls)
		cancel()
		for _, e := range batch {
			close(e.done)
		}
	}
}
