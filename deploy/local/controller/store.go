package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/fnmgr/fnmgr/couch/whiskdb"
)

// Sentinels of the document layer; asAPIError maps them to 404, 409 and the
// conformance 409.
var (
	errDocNotFound = errors.New("controller: document not found")
	errDocConflict = errors.New("controller: document update conflict")
	errWrongType   = errors.New("controller: document is not in this collection")
)

// Design documents and views installed by the seed (OpenWhisk's ansible
// files).
const (
	ddocWhisks      = "_design/whisks.v2.1.0"
	ddocSubjects    = "_design/subjects.v2.0.0"
	viewIdentities  = "identities"
	viewActivations = "activations"
)

// store holds the three databases.
type store struct {
	whisks      *whiskdb.Store
	wdb         *kivik.DB
	subjects    *kivik.DB
	activations *kivik.DB
}

// classify maps a kivik or whiskdb error to the document sentinels, keeping
// the cause.
func classify(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, whiskdb.ErrNotFound), kivik.HTTPStatus(err) == http.StatusNotFound:
		return fmt.Errorf("controller: %s: %w: %w", op, errDocNotFound, err)
	case errors.Is(err, whiskdb.ErrConflict), kivik.HTTPStatus(err) == http.StatusConflict:
		return fmt.Errorf("controller: %s: %w: %w", op, errDocConflict, err)
	}
	return fmt.Errorf("controller: %s: %w", op, err)
}

// getRaw reads document docid of db.
func getRaw(ctx context.Context, db *kivik.DB, docid string) (json.RawMessage, error) {
	var raw json.RawMessage
	if err := db.Get(ctx, docid).ScanDoc(&raw); err != nil {
		return nil, classify("get "+docid, err)
	}
	return raw, nil
}

// putDoc writes v under docid (an update when v carries _rev).
func putDoc(ctx context.Context, db *kivik.DB, docid string, v any) (string, error) {
	rev, err := db.Put(ctx, docid, v)
	if err != nil {
		return "", classify("put "+docid, err)
	}
	return rev, nil
}

// viewQuery describes a view query.
type viewQuery struct {
	ddoc, view       string
	startKey, endKey any
	key              any
	descending       bool
	skip, limit      int // limit 0: no limit
	includeDocs      bool
	reduce           bool
}

func (q viewQuery) params() map[string]any {
	p := map[string]any{"reduce": q.reduce}
	if q.key != nil {
		p["key"] = q.key
	}
	if q.startKey != nil {
		p["startkey"] = q.startKey
	}
	if q.endKey != nil {
		p["endkey"] = q.endKey
	}
	if q.descending {
		p["descending"] = true
	}
	if q.skip > 0 {
		p["skip"] = q.skip
	}
	if q.limit > 0 {
		p["limit"] = q.limit
	}
	if q.includeDocs {
		p["include_docs"] = true
	}
	return p
}

// viewRow is one row of a view result.
type viewRow struct {
	ID    string
	Value json.RawMessage
	Doc   json.RawMessage
}

// query runs q on db and returns its rows.
func query(ctx context.Context, db *kivik.DB, q viewQuery) ([]viewRow, error) {
	rs := db.Query(ctx, q.ddoc, "_view/"+q.view, kivik.Params(q.params()))
	defer rs.Close()
	var rows []viewRow
	for rs.Next() {
		var row viewRow
		row.ID, _ = rs.ID()
		if err := rs.ScanValue(&row.Value); err != nil {
			return nil, fmt.Errorf("controller: scan %s/%s: %w", q.ddoc, q.view, err)
		}
		if q.includeDocs {
			if err := rs.ScanDoc(&row.Doc); err != nil {
				return nil, fmt.Errorf("controller: scan %s/%s doc: %w", q.ddoc, q.view, err)
			}
		}
		rows = append(rows, row)
	}
	if err := rs.Err(); err != nil {
		return nil, classify("query "+q.ddoc+"/"+q.view, err)
	}
	return rows, nil
}

// count runs q as a reduce (_count) and returns the total, minus skip as
// OpenWhisk's countCollectionInNamespace does.
func count(ctx context.Context, db *kivik.DB, q viewQuery) (int, error) {
	skip := q.skip
	q.reduce, q.skip, q.limit, q.includeDocs = true, 0, 0, false
	rows, err := query(ctx, db, q)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rows {
		var v int
		if err := json.Unmarshal(r.Value, &v); err == nil {
			n += v
		}
	}
	return max(n-skip, 0), nil
}
