package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// scanPage is the page size of a name-filtered activation scan.
const scanPage = 500

// activationQuery is a parsed activation list request.
type activationQuery struct {
	ns          string
	name        string // "" or "action" or "pkg/action"
	since, upto *int64
	list        listParams
	docs        bool
}

// listActivations answers GET /namespaces/{ns}/activations, newest first
// (WhiskActivationsApi.list), from the activations view
// _design/whisks.v2.1.0/activations.
//
// A name filter is applied here, with the filter view's own rule, over the
// namespace view: OpenWhisk's _design/whisks-filters.v2.1.1 assigns an
// undeclared loop variable, which pouchdb-server's strict-mode view engine
// rejects, so that view emits nothing on the local stack.
func (c *Controller) listActivations(w http.ResponseWriter, r *http.Request, ns string) error {
	q, err := parseActivationQuery(r, ns)
	if err != nil {
		return err
	}
	if q.list.count && q.docs {
		return badRequest(msgDocsWithCount)
	}
	vq := viewQuery{ddoc: ddocWhisks, view: viewActivations, descending: true,
		startKey: []any{ns, viewTop}, endKey: []any{ns, 0}}
	if q.upto != nil {
		vq.startKey = []any{ns, *q.upto}
	}
	if q.since != nil {
		vq.endKey = []any{ns, *q.since}
	}
	var rows []viewRow
	switch {
	case q.name == "" && q.list.count:
		vq.skip = q.list.skip
		n, err := count(r.Context(), c.store.activations, vq)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]int{"activations": n})
		return nil
	case q.name == "":
		vq.skip, vq.limit, vq.includeDocs = q.list.skip, q.list.limit, q.docs
		rows, err = query(r.Context(), c.store.activations, vq)
	default:
		rows, err = c.scanActivations(r.Context(), vq, q)
	}
	if err != nil {
		return err
	}
	if q.list.count {
		writeJSON(w, http.StatusOK, map[string]int{"activations": len(rows)})
		return nil
	}
	out := make([]any, 0, len(rows))
	for _, row := range rows {
		if !q.docs {
			out = append(out, row.Value)
			continue
		}
		var a entity.Activation
		if err := json.Unmarshal(row.Doc, &a); err != nil {
			return fmt.Errorf("controller: decode activation %s: %w", row.ID, err)
		}
		out = append(out, a.View())
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func parseActivationQuery(r *http.Request, ns string) (activationQuery, error) {
	q := activationQuery{ns: ns}
	var err error
	if q.list, err = parseList(r, "activations"); err != nil {
		return q, err
	}
	if q.docs, err = queryBool(r, "docs", false); err != nil {
		return q, err
	}
	v := r.URL.Query()
	if q.since, err = epochParam(v.Get("since")); err != nil {
		return q, err
	}
	if q.upto, err = epochParam(v.Get("upto")); err != nil {
		return q, err
	}
	if name := v.Get("name"); name != "" {
		parts := strings.Split(name, "/")
		if len(parts) > 2 || !validName(parts[0]) || (len(parts) == 2 && !validName(parts[1])) {
			return q, badRequest(msgMalformedQuery("name", "Parameter may be a 'simple' name or 'package-name/simple' name: "+name))
		}
		q.name = name
	}
	return q, nil
}

// scanActivations pages through the namespace view and keeps the rows whose
// filter name matches, honouring skip and limit (all of them for a count).
func (c *Controller) scanActivations(ctx context.Context, vq viewQuery, q activationQuery) ([]viewRow, error) {
	var out []viewRow
	skip := q.list.skip
	vq.limit, vq.includeDocs = scanPage, q.docs
	for offset := 0; ; offset += scanPage {
		vq.skip = offset
		rows, err := query(ctx, c.store.activations, vq)
		if err != nil {
			return nil, err
		}
		for _, row := range rows {
			var sum struct {
				Name        string           `json:"name"`
				Annotations entity.KeyValues `json:"annotations"`
			}
			if json.Unmarshal(row.Value, &sum) != nil || filterName(sum.Name, sum.Annotations) != q.name {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			out = append(out, row)
			if !q.list.count && len(out) == q.list.limit {
				return out, nil
			}
		}
		if len(rows) < scanPage {
			return out, nil
		}
	}
}

// filterName is the name the filters view files an activation under:
// "pkg/name" when it ran through a binding or in a package, else its name
// (pathFilter in whisks-filters.v2.1.1).
func filterName(name string, ann entity.KeyValues) string {
	if b, ok := ann.String("binding"); ok && b != "" {
		if parts := strings.Split(b, "/"); len(parts) > 1 {
			return parts[1] + "/" + name
		}
		return name
	}
	if p, ok := ann.String("path"); ok {
		if parts := strings.Split(p, "/"); len(parts) == 3 {
			return parts[1] + "/" + name
		}
	}
	return name
}
