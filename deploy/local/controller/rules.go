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
	return c.routeEntities(w, r, ns, sub, "rules", func(doc json.RawMessage) (any, error) {
		var lr listedRule
		if err := json.Unmarshal(doc, &lr); err != nil {
			return nil, fmt.Errorf("controller: decode rule: %w", err)
		}
		return lr, nil
	},
		entityHandler{http.MethodGet, func(w http.ResponseWriter, r *http.Request, f fqn) error {
			rule, err := c.getRule(r.Context(), f)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, viewOfRule(rule, c.ruleStatus(r.Context(), rule)))
			return nil
		}},
		entityHandler{http.MethodPut, func(w http.ResponseWriter, r *http.Request, f fqn) error { return c.putRule(w, r, id, f) }},
		entityHandler{http.MethodDelete, c.deleteRule},
		entityHandler{http.MethodPost, c.setRuleState})
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
	in, err := readPut[rulePut](r, c, ruleKind, f, nil)
	if err != nil {
		return err
	}
	put, old, found := in.body, in.old, in.found
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
		if old.Trigger.String() != tf.DocID() {
			var oldT entity.Trigger
			if ok, err := c.existing(ctx, old.Trigger.String(), entity.TypeTrigger, &oldT); err == nil && ok {
				if err := c.linkRule(ctx, oldT, f.DocID(), old.Action, ""); err != nil {
					return err
				}
			}
		}
	} else {
		rule = entity.Rule{Namespace: f.Path, Name: f.Name, Annotations: entity.KeyValues{}}
	}
	rule.Version = nextVersion(put.Version, old.Version, found)
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
	return c.saveEntity(ctx, w, f, rule, viewOfRule(rule, status))
}

func (c *Controller) deleteRule(w http.ResponseWriter, r *http.Request, f fqn) error {
	return deleteEntityOf(r.Context(), c, w, ruleKind, f, func(ctx context.Context, rule entity.Rule) error {
		// Unlink it from its trigger first, when the trigger is still there.
		var t entity.Trigger
		if ok, err := c.existing(ctx, rule.Trigger.String(), entity.TypeTrigger, &t); err == nil && ok {
			return c.linkRule(ctx, t, rule.ID, rule.Action, "")
		}
		return nil
	}, func(rule entity.Rule) any { return viewOfRule(rule, entity.StatusInactive) })
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
