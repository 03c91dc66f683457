package registry

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/go-kivik/kivik/v4"

	"github.com/fnmgr/fnmgr/couch"
)

// Docs is what the registry needs of a document database: CouchDB's
// conditional writes (a document's "_rev" must be the stored one, else
// couch.ErrConflict), reads (couch.ErrNotFound), and reading documents in
// id order. CouchDocs is the registry's CouchDB database; MemoryDocs keeps
// documents in memory for unit tests.
type Docs interface {
	// Get reads document id into v.
	Get(ctx context.Context, id string, v any) error
	// Put writes doc (whose "_id" is id, whose "_rev" is the revision it
	// replaces, none for a new one) and returns its new revision.
	Put(ctx context.Context, id string, doc any) (string, error)
	// Delete deletes document id at revision rev.
	Delete(ctx context.Context, id, rev string) error
	// Page returns at most limit documents whose ids lie between start
	// and end (both included; descending: start is the greater), in id
	// order, with their ids.
	Page(ctx context.Context, start, end string, desc bool, limit int) ([]Row, error)
}

// Row is one document of a Page.
type Row struct {
	ID  string
	Doc json.RawMessage
}

// CouchDocs is a CouchDB database as Docs: single-document reads and
// writes made at the same time by different callers share requests
// (couch.Batcher).
type CouchDocs struct {
	db *kivik.DB
	b  *couch.Batcher
}

// NewCouchDocs returns db as Docs.
func NewCouchDocs(db *kivik.DB) *CouchDocs {
	return &CouchDocs{db: db, b: couch.NewBatcher(db, couch.BatcherOptions{})}
}

// Get implements Docs.
func (c *CouchDocs) Get(ctx context.Context, id string, v any) error { return c.b.Get(ctx, id, v) }

// Put implements Docs.
func (c *CouchDocs) Put(ctx context.Context, id string, doc any) (string, error) {
	return c.b.Put(ctx, id, doc)
}

// Delete implements Docs.
func (c *CouchDocs) Delete(ctx context.Context, id, rev string) error {
	_, err := c.db.Delete(ctx, id, rev)
	return couch.Classify(err)
}

// Page implements Docs with _all_docs.
func (c *CouchDocs) Page(ctx context.Context, start, end string, desc bool, limit int) ([]Row, error) {
	rows := c.db.AllDocs(ctx, kivik.Params(map[string]any{
		"include_docs": true, "startkey": start, "endkey": end, "limit": limit, "descending": desc}))
	defer rows.Close()
	var out []Row
	for rows.Next() {
		id, _ := rows.ID()
		var raw json.RawMessage
		if err := rows.ScanDoc(&raw); err != nil {
			return nil, fmt.Errorf("read %s: %w", id, couch.Classify(err))
		}
		out = append(out, Row{ID: id, Doc: raw})
	}
	return out, couch.Classify(rows.Err())
}
