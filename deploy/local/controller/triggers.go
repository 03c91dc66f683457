package controller

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// triggerPut is the body of PUT /triggers/{name} (WhiskTriggerPut).
type triggerPut struct {
	Parameters  entity.KeyValues `json:"parameters,omitempty"`
	Limits      json.RawMessage  `json:"limits,omitempty"`
	Version     string           `json:"version,omitempty"`
	Publish     *bool            `json:"publish,omitempty"`
	Annotations entity.KeyValues `json:"annotations,omitempty"`
}

// triggerView is a trigger as the REST API shows it.
type triggerView struct {
	Namespace   string                         `json:"namespace"`
	Name        string                         `json:"name"`
	Parameters  entity.KeyValues               `json:"parameters"`
	Limits      json.RawMessage                `json:"limits"`
	Version     string                         `json:"version"`
	Publish     bool                           `json:"publish"`
	Annotations entity.KeyValues               `json:"annotations"`
	Rules       *map[string]entity.ReducedRule `json:"rules,omitempty"`
	Updated     int64                          `json:"updated,omitempty"`
}

func viewOfTrigger(t entity.Trigger) triggerView {
	lim := t.Limits
	if len(lim) == 0 {
		lim = json.RawMessage("{}")
	}
	v := triggerView{Namespace: t.Namespace, Name: t.Name, Parameters: t.Parameters, Limits: lim, Version: t.Version,
		Publish: t.Publish, Annotations: t.Annotations, Updated: t.Updated}
	if t.Rules != nil {
		v.Rules = &t.Rules
	}
	return v
}

// triggers routes /namespaces/{ns}/triggers[/{name}].
func (c *Controller) triggers(w http.ResponseWriter, r *http.Request, id *identity, ns string, sub []string) error {
	return c.routeEntities(w, r, ns, sub, "triggers", nil,
		entityHandler{http.MethodGet, func(w http.ResponseWriter, r *http.Request, f fqn) error {
			t, err := c.getTrigger(r.Context(), f)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, viewOfTrigger(t))
			return nil
		}},
		entityHandler{http.MethodPut, c.putTrigger},
		entityHandler{http.MethodDelete, c.deleteTrigger},
		entityHandler{http.MethodPost, func(w http.ResponseWriter, r *http.Request, f fqn) error { return c.fireTrigger(w, r, id, f) }})
}

func (c *Controller) putTrigger(w http.ResponseWriter, r *http.Request, f fqn) error {
	ctx := r.Context()
	in, err := readPut(r, c, triggerKind, f, func(put triggerPut) error { return checkVersion(put.Version) })
	if err != nil {
		return err
	}
	put, old, found := in.body, in.old, in.found
	t := old
	if !found {
		if feed, ok := put.Annotations.Get("feed"); ok {
			var s string
			if json.Unmarshal(feed, &s) != nil {
				return badRequest("Feed name is not valid")
			}
			if _, ok := parseFQN(s, f.Root()); !ok {
				return badRequest("Feed name is not valid")
			}
		}
		t = entity.Trigger{Namespace: f.Path, Name: f.Name, Parameters: put.Parameters, Limits: put.Limits,
			Publish: put.Publish != nil && *put.Publish, Annotations: put.Annotations}
	} else {
		if put.Parameters != nil {
			t.Parameters = put.Parameters
		}
		if put.Limits != nil {
			t.Limits = put.Limits
		}
		if put.Publish != nil {
			t.Publish = *put.Publish
		}
		if put.Annotations != nil {
			t.Annotations = put.Annotations
		}
	}
	if len(t.Limits) == 0 || string(t.Limits) == "null" {
		t.Limits = json.RawMessage("{}")
	}
	if t.Parameters == nil {
		t.Parameters = entity.KeyValues{}
	}
	if t.Annotations == nil {
		t.Annotations = entity.KeyValues{}
	}
	t.Version = nextVersion(put.Version, old.Version, found)
	t.EntityType, t.Updated = entity.TypeTrigger, time.Now().UnixMilli()
	doc, err := triggerDoc(t)
	if err != nil {
		return err
	}
	return c.saveEntity(ctx, w, f, doc, viewOfTrigger(t))
}

func (c *Controller) deleteTrigger(w http.ResponseWriter, r *http.Request, f fqn) error {
	return deleteEntityOf(r.Context(), c, w, triggerKind, f, nil,
		func(t entity.Trigger) any { return viewOfTrigger(t) })
}
