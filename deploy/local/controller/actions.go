package controller

import (
	"context"
	"net/http"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// actions routes /namespaces/{ns}/actions[/{pkg}]/[{name}].
func (c *Controller) actions(w http.ResponseWriter, r *http.Request, id *identity, ns string, sub []string) error {
	switch {
	case len(sub) == 0 || (len(sub) == 1 && sub[0] == ""):
		if r.Method != http.MethodGet {
			return errMethod(http.MethodGet)
		}
		return c.listEntities(r.Context(), w, r, "actions", ns, nil)
	case len(sub) == 2 && sub[1] == "":
		if r.Method != http.MethodGet {
			return errMethod(http.MethodGet)
		}
		if err := checkName(sub[0]); err != nil {
			return err
		}
		pkg, _, err := c.resolvePackage(r.Context(), fqn{Path: ns, Name: sub[0]})
		if err != nil {
			return err
		}
		return c.listEntities(r.Context(), w, r, "actions", pkg.Namespace+"/"+pkg.Name, nil)
	case len(sub) == 1:
		if err := checkName(sub[0]); err != nil {
			return err
		}
		return c.actionOp(w, r, id, fqn{Path: ns, Name: sub[0]})
	case len(sub) == 2:
		for _, s := range sub {
			if err := checkName(s); err != nil {
				return err
			}
		}
		f := fqn{Path: ns + "/" + sub[0], Name: sub[1]}
		if r.Method == http.MethodPut || r.Method == http.MethodDelete {
			// Writes need a real package, never a binding.
			pkg, err := c.getPackage(r.Context(), fqn{Path: ns, Name: sub[0]})
			if err != nil {
				return err
			}
			if pkg.Binding.IsBinding() {
				return badRequest(msgNotAllowedOnBinding)
			}
		}
		return c.actionOp(w, r, id, f)
	}
	return errStatus(http.StatusNotFound, msgNoRouteFound)
}

func (c *Controller) actionOp(w http.ResponseWriter, r *http.Request, id *identity, f fqn) error {
	switch r.Method {
	case http.MethodGet:
		return c.getActionHandler(w, r, f)
	case http.MethodPut:
		return c.putAction(w, r, id, f)
	case http.MethodDelete:
		return c.deleteAction(w, r, f)
	case http.MethodPost:
		return c.invokeHandler(w, r, id, f)
	}
	return errMethod(http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPost)
}

// restExec returns exec as the REST API shows it: code inlined as a string
// (base64 again when binary), or left out.
func (c *Controller) restExec(ctx context.Context, a entity.Action, withCode bool) (entity.Exec, error) {
	e := a.Exec
	if e.Code == nil {
		return e, nil
	}
	if !withCode {
		e.Code = nil
		return e, nil
	}
	code, err := c.store.whisks.ActionCode(ctx, a)
	if err != nil {
		return e, classify("read code of "+a.ID, err)
	}
	e.Code = entity.InlineCode(entity.RESTCode(code, a.Exec.Binary))
	return e, nil
}

// actionView is the REST form of a.
func (c *Controller) actionView(ctx context.Context, a entity.Action, withCode bool) (entity.ActionView, error) {
	e, err := c.restExec(ctx, a, withCode)
	if err != nil {
		return entity.ActionView{}, err
	}
	return a.View(e), nil
}

func (c *Controller) getActionHandler(w http.ResponseWriter, r *http.Request, f fqn) error {
	withCode, err := queryBool(r, "code", true)
	if err != nil {
		return err
	}
	ra, err := c.resolveAction(r.Context(), f)
	if err != nil {
		return err
	}
	v, err := c.actionView(r.Context(), ra.Action, withCode)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (c *Controller) deleteAction(w http.ResponseWriter, r *http.Request, f fqn) error {
	ctx := r.Context()
	var a entity.Action
	found, err := c.existing(ctx, f.DocID(), entity.TypeAction, &a)
	if err != nil {
		return err
	}
	if !found {
		return errNotFound
	}
	if err := c.checkReadable(a); err != nil {
		return err
	}
	v, err := c.actionView(ctx, a, true)
	if err != nil {
		return err
	}
	if err := c.deleteEntity(ctx, a.ID, a.Rev); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
