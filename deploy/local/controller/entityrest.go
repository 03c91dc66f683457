package controller

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// The REST handling packages, triggers and rules share, as OpenWhisk's
// WhiskCollectionApi shares it: routing a collection and its names, the
// start of a PUT (overwrite, body, the current document, 409), the
// version a write gives, and DELETE.

// entityHandler is one method on a named entity.
type entityHandler struct {
	method string
	handle func(w http.ResponseWriter, r *http.Request, f fqn) error
}

// routeEntities answers /namespaces/{ns}/{collection}[/{name}]: a GET of
// the collection lists it (listRow shapes each document; nil: as stored);
// a name is checked and handed to its method's handler; another method is
// 405, naming handlers' methods in order.
func (c *Controller) routeEntities(w http.ResponseWriter, r *http.Request, ns string, sub []string,
	collection string, listRow func(json.RawMessage) (any, error), handlers ...entityHandler) error {
	sub = trimTrailing(sub)
	if len(sub) == 0 {
		if r.Method != http.MethodGet {
			return errMethod(http.MethodGet)
		}
		return c.listEntities(r.Context(), w, r, collection, ns, listRow)
	}
	if len(sub) != 1 {
		return errStatus(http.StatusNotFound, msgNoRouteFound)
	}
	if err := checkName(sub[0]); err != nil {
		return err
	}
	f := fqn{Path: ns, Name: sub[0]}
	allowed := make([]string, 0, len(handlers))
	for _, h := range handlers {
		if h.method == r.Method {
			return h.handle(w, r, f)
		}
		allowed = append(allowed, h.method)
	}
	return errMethod(allowed...)
}

// entityKind is one type of entity document: its entityType and where its
// CouchDB id and revision are.
type entityKind[E any] struct {
	typ  string
	meta func(*E) *entity.DocMeta
}

var (
	packageKind = entityKind[entity.Package]{typ: entity.TypePackage, meta: func(p *entity.Package) *entity.DocMeta { return &p.DocMeta }}
	triggerKind = entityKind[entity.Trigger]{typ: entity.TypeTrigger, meta: func(t *entity.Trigger) *entity.DocMeta { return &t.DocMeta }}
	ruleKind    = entityKind[entity.Rule]{typ: entity.TypeRule, meta: func(r *entity.Rule) *entity.DocMeta { return &r.DocMeta }}
)

// entityPut is a PUT's body and the document it replaces (old is the zero
// value when found is false).
type entityPut[P, E any] struct {
	body  P
	old   E
	found bool
}

// readPut starts a PUT of f: the overwrite flag, the body (then check,
// when set), and the current document, read past the cache. A document of
// f that exists is 409 without overwrite=true; one of another entity type
// is the conformance error.
func readPut[P, E any](r *http.Request, c *Controller, k entityKind[E], f fqn, check func(P) error) (entityPut[P, E], error) {
	var p entityPut[P, E]
	overwrite, err := queryBool(r, "overwrite", false)
	if err != nil {
		return p, err
	}
	if err := decodeBody(r, &p.body); err != nil {
		return p, err
	}
	if check != nil {
		if err := check(p.body); err != nil {
			return p, err
		}
	}
	if p.found, err = c.existing(r.Context(), f.DocID(), k.typ, &p.old); err != nil {
		return p, err
	}
	if p.found && !overwrite {
		return p, errStatus(http.StatusConflict, msgExists)
	}
	return p, nil
}

// checkVersion refuses a version in a PUT's body that is not a semantic
// version above 0.0.0 ("" leaves it to the write).
func checkVersion(v string) error {
	if v != "" && !validSemVer(v) {
		return badRequest(msgMalformedBody("requirement failed: bad semantic version " + v))
	}
	return nil
}

// nextVersion is the version a PUT writes: the one it sent, else the
// replaced document's with its patch number bumped, else 0.0.1.
func nextVersion(put, old string, found bool) string {
	switch {
	case put != "":
		return put
	case found:
		return upPatch(old)
	}
	return "0.0.1"
}

// saveEntity writes doc as f's document and answers 200 with view.
func (c *Controller) saveEntity(ctx context.Context, w http.ResponseWriter, f fqn, doc, view any) error {
	if _, err := c.writeEntity(ctx, f.DocID(), doc); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

// deleteEntityOf deletes f's document (404 when there is none), running
// before first (what must hold or happen before it goes), and answers 200
// with the deleted entity as view shows it.
func deleteEntityOf[E any](ctx context.Context, c *Controller, w http.ResponseWriter, k entityKind[E], f fqn,
	before func(context.Context, E) error, view func(E) any) error {
	var e E
	found, err := c.existing(ctx, f.DocID(), k.typ, &e)
	if err != nil {
		return err
	}
	if !found {
		return errNotFound
	}
	if before != nil {
		if err := before(ctx, e); err != nil {
			return err
		}
	}
	m := k.meta(&e)
	if err := c.deleteEntity(ctx, m.ID, m.Rev); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view(e))
	return nil
}
