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
	sub = trimTrailing(sub)
	if len(sub) == 0 {
		if r.Method != http.MethodGet {
			return errMethod(http.MethodGet)
		}
		return c.listEntities(r.Context(), w, r, "packages", ns, nil)
	}
	if len(sub) != 1 {
		return errStatus(http.StatusNotFound, msgNoRouteFound)
	}
	if err := checkName(sub[0]); err != nil {
		return err
	}
	f := fqn{Path: ns, Name: sub[0]}
	switch r.Method {
	case http.MethodGet:
		return c.getPackageHandler(w, r, f)
	case http.MethodPut:
		return c.putPackage(w, r, id, f)
	case http.MethodDelete:
		return c.deletePackage(w, r, f)
	}
	return errMethod(http.MethodGet, http.MethodPut, http.MethodDelete)
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
	overwrite, err := queryBool(r, "overwrite", false)
	if err != nil {
		return err
	}
	var put packagePut
	if err := decodeBody(r, &put); err != nil {
		return err
	}
	if put.Version != "" && !validSemVer(put.Version) {
		return badRequest(msgMalformedBody("requirement failed: bad semantic version " + put.Version))
	}
	var binding *entity.Binding
	if put.Binding != nil && put.Binding.IsBinding() {
		b := *put.Binding
		if b.Namespace == defaultNS || b.Namespace == "" {
			b.Namespace = f.Root()
		}
		binding = &b
	}
	var old entity.Package
	found, err := c.existing(ctx, f.DocID(), entity.TypePackage, &old)
	if err != nil {
		return err
	}
	if found && !overwrite {
		return errStatus(http.StatusConflict, msgExists)
	}
	p := old
	if !found {
		p = entity.Package{Namespace: f.Path, Name: f.Name, Parameters: put.Parameters, Version: put.Version,
			Publish: put.Publish != nil && *put.Publish, Annotations: put.Annotations}
		if p.Version == "" {
			p.Version = "0.0.1"
		}
	} else {
		if binding != nil && !old.Binding.IsBinding() {
			return errStatus(http.StatusConflict, msgPackageToBinding)
		}
		if put.Parameters != nil {
			p.Parameters = put.Parameters
		}
		p.Version = put.Version
		if p.Version == "" {
			p.Version = upPatch(old.Version)
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
	p.EntityType, p.Updated = entity.TypePackage, time.Now().UnixMilli()
	rev, err := c.writeEntity(ctx, f.DocID(), p)
	if err != nil {
		return err
	}
	p.Rev = rev
	writeJSON(w, http.StatusOK, viewOfPackage(p))
	return nil
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
	ctx := r.Context()
	var p entity.Package
	found, err := c.existing(ctx, f.DocID(), entity.TypePackage, &p)
	if err != nil {
		return err
	}
	if !found {
		return errNotFound
	}
	if !p.Binding.IsBinding() {
		n, err := count(ctx, c.store.wdb, viewQuery{ddoc: ddocWhisks, view: "actions",
			startKey: []any{f.DocID(), 0}, endKey: []any{f.DocID(), viewTop}})
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
	}
	if err := c.deleteEntity(ctx, p.ID, p.Rev); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewOfPackage(p))
	return nil
}
