package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// rulePut is the body of PUT /rules/{name} (WhiskRulePut); status is
// ignored.
type rulePut struct {
	Trigger     string           `json:"trigger,omitempty"`
	Action      string           `json:"action,omitempty"`
	Version     string           `json:"version,omitempty"`
	Publish     *bool            `json:"publish,omitempty"`
	Annotations entity.KeyValues `json:"annotations,omitempty"`
}

func viewOfRule(r entity.Rule, status string) entity.RuleView {
	return entity.RuleView{Namespace: r.Namespace, Name: r.Name, Status: status, Trigger: r.Trigger, Action: r.Action,
		Version: r.Version, Publish: r.Publish, Annotations: r.Annotations, Updated: r.Updated}
}

// listedRule is a rule in a list: the document's fields, no status.
type listedRule struct {
	Namespace   string                    `json:"namespace"`
	Name        string                    `json:"name"`
	Trigger     entity.FullyQualifiedName `json:"trigger"`
	Action      entity.FullyQualifiedName `json:"action"`
	Version     string                    `json:"version"`
	Publish     bool                      `json:"publish"`
	Annotations entity.KeyValues          `json:"annotations"`
	Updated     int64                     `json:"updated,omitempty"`
}

// rules routes /namespaces/{ns}/rules[/{name}].
func (c *Controller) rules(w http.ResponseWriter, r *http.Request, id *identity, ns string, sub []string) error {
	sub = trimTrailing(sub)
	if len(sub) == 0 {
		if r.Method != http.MethodGet {
			return errMethod(http.MethodGet)
		}
		return c.listEntities(r.Context(), w, r, "rules", ns, func(doc json.RawMessage) (any, error) {
			var lr listedRule
			if err := json.Unmarshal(doc, &lr); err != nil {
				return nil, fmt.Errorf("controller: decode rule: %w", err)
			}
			return lr, nil
		})
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
		rule, err := c.getRule(r.Context(), f)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, viewOfRule(rule, c.ruleStatus(r.Context(), rule)))
		return nil
	case http.MethodPut:
		return c.putRule(w, r, id, f)
	case http.MethodDelete:
		return c.deleteRule(w, r, f)
	case http.MethodPost:
		return c.setRuleState(w, r, f)
	}
	return errMethod(http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPost)
}

// ruleStatus reads a rule's status from its trigger: inactive when the
// trigger or the link is missing.
func (c *Controller) ruleStatus(ctx context.Context, rule entity.Rule) string {
	t, err := c.getTrigger(ctx, fqn{Path: rule.Trigger.Path, Name: rule.Trigger.Name})
	if err != nil {
		return entity.StatusInactive
	}
	if link, ok := t.Rules[rule.ID]; ok {
		return link.Status
	}
	return entity.StatusInactive
}

// linkRule writes the trigger with rule linked at status (or unlinked when
// status is ""). Rule links never bump the trigger's version.
func (c *Controller) linkRule(ctx context.Context, t entity.Trigger, ruleID string, action entity.FullyQualifiedName, status string) error {
	rules := map[string]entity.ReducedRule{}
	for k, v := range t.Rules {
		rules[k] = v
	}
	if status == "" {
		delete(rules, ruleID)
	} else {
		rules[ruleID] = entity.ReducedRule{Action: entity.FullyQualifiedName{Path: action.Path, Name: action.Name}, Status: status}
	}
	t.Rules = rules
	doc, err := triggerDoc(t)
	if err != nil {
		return err
	}
	_, err = c.writeEntity(ctx, t.ID, doc)
	return err
}

// triggerDoc encodes a trigger whose rules map is set: an empty map stays
// "rules": {} as OpenWhisk writes it once a rule was linked.
func triggerDoc(t entity.Trigger) (map[string]json.RawMessage, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("controller: encode trigger %s: %w", t.ID, err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("controller: encode trigger %s: %w", t.ID, err)
	}
	if t.Rules != nil {
		if doc["rules"], err = json.Marshal(t.Rules); err != nil {
			return nil, fmt.Errorf("controller: encode trigger %s: %w", t.ID, err)
		}
	}
	return doc, nil
}

// checkRuleTargets confirms the trigger and the action exist.
func (c *Controller) checkRuleTargets(ctx context.Context, tf, af fqn) (entity.Trigger, error) {
	var t entity.Trigger
	found, err := c.existing(ctx, tf.DocID(), entity.TypeTrigger, &t)
	if err != nil && asAPIError(err) != errConformance {
		return t, err
	}
	if !found {
		return t, badRequest(fmt.Sprintf("trigger %s does not exist", tf.Slash()))
	}
	if _, err := c.resolveAction(ctx, af); err != nil {
		if isNotFound(err) || asAPIError(err) == errConformance {
			return t, badRequest(fmt.Sprintf("action %s does not exist", af.Slash()))
		}
		return t, err
	}
	return t, nil
}

func (c *Controller) putRule(w http.ResponseWriter, r *http.Request, id *identity, f fqn) error {
	ctx := r.Context()
	overwrite, err := queryBool(r, "overwrite", false)
	if err != nil {
		return err
	}
	var put rulePut
	if err := decodeBody(r, &put); err != nil {
		return err
	}
	var old entity.Rule
	found, err := c.existing(ctx, f.DocID(), entity.TypeRule, &old)
	if err != nil {
		return err
	}
	if found && !overwrite {
		return errStatus(http.StatusConflict, msgExists)
	}
	parse := func(s string) (fqn, error) {
		v, ok := parseFQN(s, f.Root())
		if !ok {
			return fqn{}, badRequest(msgMalformedBody(fmt.Sprintf("'%s' is not a fully qualified entity name", s)))
		}
		return v.resolveNS(f.Root()), nil
	}
	rule, status := old, entity.StatusActive
	tf, af := fqn{Path: old.Trigger.Path, Name: old.Trigger.Name}, fqn{Path: old.Action.Path, Name: old.Action.Name}
	if !found && (put.Trigger == "" || put.Action == "") {
		return badRequest(msgRuleNeedsBoth)
	}
	if put.Trigger != "" {
		if tf, err = parse(put.Trigger); err != nil {
			return err
		}
	}
	if put.Action != "" {
		if af, err = parse(put.Action); err != nil {
			return err
		}
	}
	if tf.Root() != id.Namespace {
		return errStatus(http.StatusForbidden, msgForbidden(tf.String()))
	}
	if err := c.entitled(ctx, id, af); err != nil {
		return err
	}
	t, err := c.checkRuleTargets(ctx, tf, af)
	if err != nil {
		return err
	}
	if found {
		status = c.ruleStatus(ctx, old)
		rule.Version = put.Version
		if rule.Version == "" {
			rule.Version = upPatch(old.Version)
		}
		if old.Trigger.String() != tf.DocID() {
			var oldT entity.Trigger
			if ok, err := c.existing(ctx, old.Trigger.String(), entity.TypeTrigger, &oldT); err == nil && ok {
				if err := c.linkRule(ctx, oldT, f.DocID(), old.Action, ""); err != nil {
					return err
				}
			}
		}
	} else {
		rule = entity.Rule{Namespace: f.Path, Name: f.Name, Version: put.Version, Annotations: entity.KeyValues{}}
		if rule.Version == "" {
			rule.Version = "0.0.1"
		}
	}
	rule.Trigger = entity.FullyQualifiedName{Path: tf.Path, Name: tf.Name}
	rule.Action = entity.FullyQualifiedName{Path: af.Path, Name: af.Name}
	if put.Publish != nil {
		rule.Publish = *put.Publish
	}
	if put.Annotations != nil {
		rule.Annotations = put.Annotations
	}
	if err := c.linkRule(ctx, t, f.DocID(), rule.Action, status); err != nil {
		return err
	}
	rule.EntityType, rule.Updated = entity.TypeRule, time.Now().UnixMilli()
	rev, err := c.writeEntity(ctx, f.DocID(), rule)
	if err != nil {
		return err
	}
	rule.Rev = rev
	writeJSON(w, http.StatusOK, viewOfRule(rule, status))
	return nil
}

func (c *Controller) deleteRule(w http.ResponseWriter, r *http.Request, f fqn) error {
	ctx := r.Context()
	var rule entity.Rule
	found, err := c.existing(ctx, f.DocID(), entity.TypeRule, &rule)
	if err != nil {
		return err
	}
	if !found {
		return errNotFound
	}
	var t entity.Trigger
	if ok, err := c.existing(ctx, rule.Trigger.String(), entity.TypeTrigger, &t); err == nil && ok {
		if err := c.linkRule(ctx, t, rule.ID, rule.Action, ""); err != nil {
			return err
		}
	}
	if err := c.deleteEntity(ctx, rule.ID, rule.Rev); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewOfRule(rule, entity.StatusInactive))
	return nil
}

// setRuleState answers POST /rules/{name} {"status": "active"|"inactive"}.
func (c *Controller) setRuleState(w http.ResponseWriter, r *http.Request, f fqn) error {
	ctx := r.Context()
	var body struct {
		Status string `json:"status"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if body.Status != entity.StatusActive && body.Status != entity.StatusInactive {
		return badRequest(msgMalformedBody("status field must be one of active or inactive"))
	}
	rule, err := c.getRule(ctx, f)
	if err != nil {
		return err
	}
	if c.ruleStatus(ctx, rule) != body.Status {
		var t entity.Trigger
		found, err := c.existing(ctx, rule.Trigger.String(), entity.TypeTrigger, &t)
		if err != nil {
			return err
		}
		if !found {
			return errStatus(http.StatusNotFound, msgRuleNeedsTrigger)
		}
		if err := c.linkRule(ctx, t, rule.ID, rule.Action, body.Status); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "OK")
	return nil
}
