package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// packagePut is the body of PUT /packages/{name} (WhiskPackagePut).
type packagePut struct {
	Binding     *entity.Binding  `json:"binding,omitempty"`
	Parameters  entity.KeyValues `json:"parameters,omitempty"`
	Version     string           `json:"version,omitempty"`
	Publish     *bool            `json:"publish,omitempty"`
	Annotations entity.KeyValues `json:"annotations,omitempty"`
}

// packageView is a package as the REST API shows it.
type packageView struct {
	Namespace   string           `json:"namespace"`
	Name        string           `json:"name"`
	Binding     entity.Binding   `json:"binding"`
	Parameters  entity.KeyValues `json:"parameters"`
	Version     string           `json:"version"`
	Publish     bool             `json:"publish"`
	Annotations entity.KeyValues `json:"annotations"`
	Updated     int64            `json:"updated,omitempty"`
	Actions     *[]packageAction `json:"actions,omitempty"`
	Feeds       *[]packageAction `json:"feeds,omitempty"`
}

// packageAction is an action listed in GET /packages/{name}.
type packageAction struct {
	Name        string           `json:"name"`
	Version     string           `json:"version"`
	Annotations entity.KeyValues `json:"annotations"`
}

func viewOfPackage(p entity.Package) packageView {
	return packageView{Namespace: p.Namespace, Name: p.Name, Binding: p.Binding, Parameters: p.Parameters,
		Version: p.Version, Publish: p.Publish, Annotations: p.Annotations, Updated: p.Updated}
}

// packages routes /namespaces/{ns}/packages[/{name}].
func (c *Controller) packages(w http.ResponseWriter, r *http.Request, id *identity, ns string, sub []string) error {
	return c.routeEntities(w, r, ns, sub, "packages", nil,
		entityHandler{http.MethodGet, c.getPackageHandler},
		entityHandler{http.MethodPut, func(w http.ResponseWriter, r *http.Request, f fqn) error { return c.putPackage(w, r, id, f) }},
		entityHandler{http.MethodDelete, c.deletePackage})
}

// getPackageHandler returns the package, or for a binding the package it
// refers to with the binding's parameters inherited, plus its actions.
func (c *Controller) getPackageHandler(w http.ResponseWriter, r *http.Request, f fqn) error {
	ctx := r.Context()
	p, err := c.getPackage(ctx, f)
	if err != nil {
		return err
	}
	if p.Binding.IsBinding() {
		ref, err := c.getPackage(ctx, fqn{Path: p.Binding.Namespace, Name: p.Binding.Name})
		if err != nil {
			return err
		}
		ref.Parameters = p.Parameters.Merge(ref.Parameters)
		p = ref
	}
	v := viewOfPackage(p)
	rows, err := query(ctx, c.store.wdb, viewQuery{ddoc: ddocWhisks, view: "actions", descending: true,
		startKey: []any{p.Namespace + "/" + p.Name, viewTop}, endKey: []any{p.Namespace + "/" + p.Name, 0}})
	if err != nil {
		return err
	}
	actions, feeds := []packageAction{}, []packageAction{}
	for _, row := range rows {
		var pa packageAction
		if err := json.Unmarshal(row.Value, &pa); err != nil {
			return fmt.Errorf("controller: decode package action: %w", err)
		}
		if pa.Annotations == nil {
			pa.Annotations = entity.KeyValues{}
		}
		if _, ok := pa.Annotations.Get("feed"); ok {
			feeds = append(feeds, pa)
		} else {
			actions = append(actions, pa)
		}
	}
	v.Actions, v.Feeds = &actions, &feeds
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (c *Controller) putPackage(w http.ResponseWriter, r *http.Request, id *identity, f fqn) error {
	ctx := r.Context()
	if f.Name == "default" {
		return badRequest(msgPackageReserved(f.Name))
	}
	in, err := readPut(r, c, packageKind, f, func(put packagePut) error { return checkVersion(put.Version) })
	if err != nil {
		return err
	}
	put, old, found := in.body, in.old, in.found
	var binding *entity.Binding
	if put.Binding != nil && put.Binding.IsBinding() {
		b := *put.Binding
		if b.Namespace == defaultNS || b.Namespace == "" {
			b.Namespace = f.Root()
		}
		binding = &b
	}
	p := old
	if !found {
		p = entity.Package{Namespace: f.Path, Name: f.Name, Parameters: put.Parameters,
			Publish: put.Publish != nil && *put.Publish, Annotations: put.Annotations}
	} else {
		if binding != nil && !old.Binding.IsBinding() {
			return errStatus(http.StatusConflict, msgPackageToBinding)
		}
		if put.Parameters != nil {
			p.Parameters = put.Parameters
		}
		if put.Publish != nil {
			p.Publish = *put.Publish
		}
		if put.Annotations != nil {
			p.Annotations = put.Annotations
		}
	}
	if binding != nil {
		if err := c.entitledBinding(ctx, id, *binding); err != nil {
			return err
		}
		if err := c.checkBinding(ctx, *binding); err != nil {
			return err
		}
		p.Binding = *binding
	}
	p.Annotations = p.Annotations.Without("binding")
	if p.Binding.IsBinding() {
		p.Annotations = p.Annotations.With("binding", p.Binding)
	}
	if p.Parameters == nil {
		p.Parameters = entity.KeyValues{}
	}
	p.Version = nextVersion(put.Version, old.Version, found)
	p.EntityType, p.Updated = entity.TypePackage, time.Now().UnixMilli()
	return c.saveEntity(ctx, w, f, p, viewOfPackage(p))
}

// entitledBinding lets a binding refer to the caller's own packages or to
// a published package of another namespace.
func (c *Controller) entitledBinding(ctx context.Context, id *identity, b entity.Binding) error {
	if b.Namespace == id.Namespace {
		return nil
	}
	p, err := c.getPackage(ctx, fqn{Path: b.Namespace, Name: b.Name})
	if err == nil && p.Publish {
		return nil
	}
	return errStatus(http.StatusForbidden, msgForbidden(b.Namespace+"/"+b.Name))
}

// checkBinding confirms a binding refers to an existing package that is not
// itself a binding.
func (c *Controller) checkBinding(ctx context.Context, b entity.Binding) error {
	ref, err := c.getPackage(ctx, fqn{Path: b.Namespace, Name: b.Name})
	switch {
	case isNotFound(err):
		return badRequest(msgBindingNotExist)
	case err != nil && asAPIError(err) == errConformance:
		return errStatus(http.StatusConflict, msgBindingNotPackage)
	case err != nil:
		return err
	case ref.Binding.IsBinding():
		return badRequest(msgBindingToBinding)
	}
	return nil
}

func (c *Controller) deletePackage(w http.ResponseWriter, r *http.Request, f fqn) error {
	return deleteEntityOf(r.Context(), c, w, packageKind, f, c.checkPackageEmpty,
		func(p entity.Package) any { return viewOfPackage(p) })
}

// checkPackageEmpty refuses to delete a package that holds actions (a
// binding holds none).
func (c *Controller) checkPackageEmpty(ctx context.Context, p entity.Package) error {
	if p.Binding.IsBinding() {
		return nil
	}
	n, err := count(ctx, c.store.wdb, viewQuery{ddoc: ddocWhisks, view: "actions",
		startKey: []any{p.ID, 0}, endKey: []any{p.ID, viewTop}})
	if err != nil {
		return err
	}
	if n > 0 {
		word := "entities"
		if n == 1 {
			word = "entity"
		}
		return errStatus(http.StatusConflict, fmt.Sprintf("Package not empty (contains %d %s)", n, word))
	}
	return nil
}
