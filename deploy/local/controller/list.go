package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Collection list limits (whisk.query-limit).
const (
	defaultListLimit = 30
	maxListLimit     = 200
)

// viewTop sorts after every number in CouchDB's collation.
const viewTop = "\ufff0"

// listParams are the skip/limit/count query parameters of a list.
type listParams struct {
	skip, limit int
	count       bool
}

// parseList reads skip, limit and count as OpenWhisk does for collection.
func parseList(r *http.Request, collection string) (listParams, error) {
	q := r.URL.Query()
	p := listParams{limit: defaultListLimit}
	if v, ok := q["limit"]; ok && len(v) > 0 {
		n, err := strconv.Atoi(v[0])
		switch {
		case err != nil:
			return p, badRequest(msgMalformedQuery("limit", fmt.Sprintf("The value '%s' is not an integer for %s.", v[0], collection)))
		case n == 0:
			p.limit = maxListLimit
		case n > 0 && n <= maxListLimit:
			p.limit = n
		default:
			return p, badRequest(msgMalformedQuery("limit", fmt.Sprintf("The value '%d' is not in the range of 0 to %d for %s.", n, maxListLimit, collection)))
		}
	}
	if v, ok := q["skip"]; ok && len(v) > 0 {
		n, err := strconv.Atoi(v[0])
		switch {
		case err != nil:
			return p, badRequest(msgMalformedQuery("skip", fmt.Sprintf("The value '%s' is not an integer for %s.", v[0], collection)))
		case n < 0:
			return p, badRequest(msgMalformedQuery("skip", fmt.Sprintf("The value '%d' is not greater than or equal to 0 for %s.", n, collection)))
		}
		p.skip = n
	}
	count, err := queryBool(r, "count", false)
	if err != nil {
		return p, err
	}
	p.count = count
	return p, nil
}

// listEntities answers a collection list from the whisks view of the same
// name, newest first; when includeDocs, mapDoc turns each document into
// its list item.
func (c *Controller) listEntities(ctx context.Context, w http.ResponseWriter, r *http.Request, collection, namespace string, mapDoc func(json.RawMessage) (any, error)) error {
	lp, err := parseList(r, collection)
	if err != nil {
		return err
	}
	q := viewQuery{ddoc: ddocWhisks, view: collection, descending: true,
		startKey: []any{namespace, viewTop}, endKey: []any{namespace, 0}, skip: lp.skip, limit: lp.limit}
	if lp.count {
		n, err := count(ctx, c.store.wdb, q)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]int{collection: n})
		return nil
	}
	q.includeDocs = mapDoc != nil
	rows, err := query(ctx, c.store.wdb, q)
	if err != nil {
		return err
	}
	out := make([]any, 0, len(rows))
	for _, row := range rows {
		if mapDoc == nil {
			out = append(out, row.Value)
			continue
		}
		v, err := mapDoc(row.Doc)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
