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
	sub = trimTrailing(sub)
	if len(sub) == 0 {
		if r.Method != http.MethodGet {
			return errMethod(http.MethodGet)
		}
		return c.listEntities(r.Context(), w, r, "triggers", ns, nil)
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
		t, err := c.getTrigger(r.Context(), f)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, viewOfTrigger(t))
		return nil
	case http.MethodPut:
		return c.putTrigger(w, r, f)
	case http.MethodDelete:
		return c.deleteTrigger(w, r, f)
	case http.MethodPost:
		return c.fireTrigger(w, r, id, f)
	}
	return errMethod(http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPost)
}

func (c *Controller) putTrigger(w http.ResponseWriter, r *http.Request, f fqn) error {
	ctx := r.Context()
	overwrite, err := queryBool(r, "overwrite", false)
	if err != nil {
		return err
	}
	var put triggerPut
	if err := decodeBody(r, &put); err != nil {
		return err
	}
	if put.Version != "" && !validSemVer(put.Version) {
		return badRequest(msgMalformedBody("requirement failed: bad semantic version " + put.Version))
	}
	var old entity.Trigger
	found, err := c.existing(ctx, f.DocID(), entity.TypeTrigger, &old)
	if err != nil {
		return err
	}
	if found && !overwrite {
		return errStatus(http.StatusConflict, msgExists)
	}
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
			Version: put.Version, Publish: put.Publish != nil && *put.Publish, Annotations: put.Annotations}
		if t.Version == "" {
			t.Version = "0.0.1"
		}
	} else {
		if put.Parameters != nil {
			t.Parameters = put.Parameters
		}
		if put.Limits != nil {
			t.Limits = put.Limits
		}
		t.Version = put.Version
		if t.Version == "" {
			t.Version = upPatch(old.Version)
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
	t.EntityType, t.Updated = entity.TypeTrigger, time.Now().UnixMilli()
	doc, err := triggerDoc(t)
	if err != nil {
		return err
	}
	rev, err := c.writeEntity(ctx, f.DocID(), doc)
	if err != nil {
		return err
	}
	t.Rev = rev
	writeJSON(w, http.StatusOK, viewOfTrigger(t))
	return nil
}

func (c *Controller) deleteTrigger(w http.ResponseWriter, r *http.Request, f fqn) error {
	ctx := r.Context()
	var t entity.Trigger
	found, err := c.existing(ctx, f.DocID(), entity.TypeTrigger, &t)
	if err != nil {
		return err
	}
	if !found {
		return errNotFound
	}
	if err := c.deleteEntity(ctx, t.ID, t.Rev); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewOfTrigger(t))
	return nil
}
