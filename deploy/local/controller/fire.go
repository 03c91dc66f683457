package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// ruleResult is one line of a trigger activation's logs
// (Triggers.RuleActivationResult).
type ruleResult struct {
	StatusCode   int    `json:"statusCode"`
	Success      bool   `json:"success"`
	ActivationID string `json:"activationId,omitempty"`
	Error        string `json:"error,omitempty"`
	Rule         string `json:"rule"`
	Action       string `json:"action"`
}

// fireTrigger answers POST /triggers/{name}: 204 without active rules, else
// 202 with the trigger activation id; the rules' actions are then invoked
// through this API, as the caller, and the trigger activation is written
// with one log line per rule.
func (c *Controller) fireTrigger(w http.ResponseWriter, r *http.Request, id *identity, f fqn) error {
	ctx := r.Context()
	if err := c.checkFireThrottle(ctx, id); err != nil {
		return err
	}
	body, err := readBody(r, c.opts.Limits.MaxPayloadBytes, "Request")
	if err != nil {
		return err
	}
	payload, err := objectToKV(body)
	if err != nil {
		return err
	}
	t, err := c.getTrigger(ctx, f)
	if err != nil {
		return err
	}
	active := false
	for _, rule := range t.Rules {
		if rule.Status == entity.StatusActive {
			active = true
		}
	}
	if !active {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	aid := newActivationID()
	act := entity.Activation{Namespace: id.Namespace, Name: f.Name, Subject: id.Subject, ActivationID: aid,
		Start: time.Now().UnixMilli(), End: 0,
		Response: entity.ActivationResponse{StatusCode: entity.StatusSuccess, Result: payload.Object()},
		Version:  t.Version, Annotations: entity.KeyValues{}}
	args := t.Parameters.Merge(payload).Object()
	tid := tidFrom(ctx)
	rules := t.Rules
	c.goBackground(func(ctx context.Context) {
		act.Logs = c.activateRules(ctx, id, tid, rules, args)
		if err := c.storeActivation(ctx, act); err != nil {
			c.log.Error("trigger activation not stored", "activation", aid, "err", err)
		}
	})
	w.Header().Set(activationIDHeader, aid)
	writeJSON(w, http.StatusAccepted, entity.ActivationID{ActivationID: aid})
	return nil
}

// activateRules invokes the action of every active rule and reports each
// rule's outcome as a JSON log line.
func (c *Controller) activateRules(ctx context.Context, id *identity, tid string, rules map[string]entity.ReducedRule, args []byte) []string {
	names := make([]string, 0, len(rules))
	for name := range rules {
		names = append(names, name)
	}
	sort.Strings(names)
	results := make([]ruleResult, len(names))
	done := make(chan struct{}, len(names))
	for i, name := range names {
		rule := rules[name]
		res := ruleResult{Rule: name, Action: rule.Action.String()}
		if rule.Status != entity.StatusActive {
			res.StatusCode, res.Error = entity.StatusApplicationError, msgRuleInactive(name, rule.Action.String())
			results[i] = res
			done <- struct{}{}
			continue
		}
		go func() {
			defer func() { done <- struct{}{} }()
			results[i] = c.postActivation(ctx, id, tid, rule.Action, args, res)
		}()
	}
	for range names {
		<-done
	}
	logs := make([]string, 0, len(results))
	for _, res := range results {
		res.Success = res.StatusCode == entity.StatusSuccess
		b, _ := json.Marshal(res)
		logs = append(logs, string(b))
	}
	return logs
}

// postActivation invokes a rule's action through the public API with the
// caller's key (Triggers.postActivation): no blocking parameter, so the
// invoke is non-blocking.
func (c *Controller) postActivation(ctx context.Context, id *identity, tid string, action entity.FullyQualifiedName, args []byte, res ruleResult) ruleResult {
	a := splitDocID(action.String())
	u := c.opts.APIHost + "/api/v1/namespaces/" + url.PathEscape(a.Root()) + "/actions/"
	if pkg := a.Package(); pkg != "" {
		u += url.PathEscape(pkg) + "/"
	}
	u += url.PathEscape(a.Name)
	fail := func(code int, msg string) ruleResult {
		res.StatusCode, res.Error = code, msg
		return res
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(args))
	if err != nil {
		return fail(entity.StatusInternalError, "Internal Server Error")
	}
	req.SetBasicAuth(id.UUID, id.Key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-ID", tid)
	resp, err := c.selfHTTP.Do(req)
	if err != nil {
		c.log.Warn("rule action not invoked", "action", action.String(), "err", err)
		return fail(entity.StatusInternalError, "Internal Server Error")
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted {
		var v entity.ActivationID
		if json.Unmarshal(b, &v) == nil && v.ActivationID != "" {
			res.StatusCode, res.ActivationID = entity.StatusSuccess, v.ActivationID
			return res
		}
		return fail(entity.StatusInternalError, "Internal Server Error")
	}
	code := entity.StatusApplicationError
	if resp.StatusCode >= 500 {
		code = entity.StatusInternalError
	}
	var e entity.Error
	if json.Unmarshal(b, &e) != nil || e.Error == "" {
		return fail(code, "Internal Server Error")
	}
	return fail(code, e.Error)
}
