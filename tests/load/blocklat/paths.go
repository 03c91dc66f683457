package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/fnmgr/fnmgr/deploy/local/stack"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

// fn is the function blocked and unblocked; its sequence, trigger and rule
// are named after it.
const fn = "blk"

type client struct {
	eps stack.Endpoints
	hc  *http.Client
}

func newClient(eps stack.Endpoints) *client {
	return &client{eps: eps, hc: &http.Client{Timeout: 70 * time.Second}}
}

// path is one way to run the function; probe reports whether the call was
// refused (the function named BLOCKED, or the gateway's 423), or ran.
type path struct {
	name  string
	probe func(ctx context.Context) (refused, ran bool)
}

func (c *client) paths() []path {
	inv := func(base, action string) func(context.Context) (bool, bool) {
		return func(ctx context.Context) (bool, bool) {
			status, body, err := c.do(ctx, "POST", base+"/api/v1/namespaces/_/actions/"+action+"?blocking=true&result=true", c.eps.Auth, []byte(`{}`))
			return c.verdict(status, body, err)
		}
	}
	return []path{
		{"controller", inv(c.eps.APIHost, fn)},
		{"controller name@1", inv(c.eps.APIHost, fn+"@1")},
		{"controller name@prod", inv(c.eps.APIHost, fn+"@prod")},
		{"controller sequence", inv(c.eps.APIHost, fn+"seq")},
		{"gateway", inv(c.eps.Gateway, fn)},
		{"gateway name@prod", inv(c.eps.Gateway, fn+"@prod")},
		{"controller web action", func(ctx context.Context) (bool, bool) {
			status, body, err := c.do(ctx, "GET", c.eps.APIHost+"/api/v1/web/guest/default/"+fn+".json", "", nil)
			return c.verdict(status, body, err)
		}},
		{"controller trigger rule", c.fire},
	}
}

// verdict reads an invocation's answer.
func (c *client) verdict(status int, body []byte, err error) (refused, ran bool) {
	if err != nil {
		return false, false
	}
	if status == http.StatusLocked || strings.Contains(string(body), "BLOCKED") {
		return true, false
	}
	return false, status == http.StatusOK
}

// fire fires the trigger and follows its rule to the function's
// activation.
func (c *client) fire(ctx context.Context) (bool, bool) {
	status, body, err := c.do(ctx, "POST", c.eps.APIHost+"/api/v1/namespaces/_/triggers/"+fn+"trig", c.eps.Auth, []byte(`{}`))
	if err != nil || status != http.StatusAccepted {
		return false, false
	}
	var fired struct {
		ActivationID string `json:"activationId"`
	}
	if json.Unmarshal(body, &fired) != nil {
		return false, false
	}
	var trig struct {
		Logs []string `json:"logs"`
	}
	if !c.activation(ctx, fired.ActivationID, &trig) || len(trig.Logs) == 0 {
		return false, false
	}
	var rule struct {
		ActivationID string `json:"activationId"`
	}
	if json.Unmarshal([]byte(trig.Logs[0]), &rule) != nil || rule.ActivationID == "" {
		return false, false
	}
	var act struct {
		Response struct {
			Success bool            `json:"success"`
			Result  json.RawMessage `json:"result"`
		} `json:"response"`
	}
	if !c.activation(ctx, rule.ActivationID, &act) {
		return false, false
	}
	if strings.Contains(string(act.Response.Result), "BLOCKED") {
		return true, false
	}
	return false, act.Response.Success
}

// activation polls GET activations/{id} until it is stored.
func (c *client) activation(ctx context.Context, id string, out any) bool {
	for ctx.Err() == nil {
		status, body, err := c.do(ctx, "GET", c.eps.APIHost+"/api/v1/namespaces/_/activations/"+id, c.eps.Auth, nil)
		if err == nil && status == http.StatusOK {
			return json.Unmarshal(body, out) == nil
		}
		testkit.Pause(ctx, 10*time.Millisecond) // the poll's interval
	}
	return false
}

func (c *client) do(ctx context.Context, method, url, auth string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if u, k, ok := strings.Cut(auth, ":"); ok {
		req.SetBasicAuth(u, k)
	} else if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// admin calls fnmgr's admin API on the function.
func (c *client) admin(ctx context.Context, method, sub string, body any) error {
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	status, out, err := c.do(ctx, method, c.eps.Admin+"/v1/namespaces/guest/functions/"+fn+sub, c.eps.Auth, b)
	if err != nil {
		return err
	}
	if status >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, sub, status, out)
	}
	return nil
}

// setup creates the function (a web action), publishes version 1 with the
// alias prod, a sequence around it, and a trigger with a rule to it.
func (c *client) setup(ctx context.Context) error {
	api := c.eps.APIHost + "/api/v1/namespaces/_/"
	steps := []struct{ method, url, body string }{
		{"PUT", api + "actions/" + fn, `{"exec":{"kind":"nodejs:default","code":"function main(){ return {ok: true} }"},"annotations":[{"key":"web-export","value":true}]}`},
		{"PUT", api + "actions/" + fn + "seq", `{"exec":{"kind":"sequence","components":["/guest/` + fn + `"]}}`},
		{"PUT", api + "triggers/" + fn + "trig", `{}`},
		{"PUT", api + "rules/" + fn + "rule", `{"trigger":"/guest/` + fn + `trig","action":"/guest/` + fn + `"}`},
	}
	for _, s := range steps {
		status, body, err := c.do(ctx, s.method, s.url, c.eps.Auth, []byte(s.body))
		if err != nil || status >= 300 {
			return fmt.Errorf("%s %s: %d %s %v", s.method, s.url, status, body, err)
		}
	}
	if err := testkit.Await(ctx, time.Minute, 20*time.Millisecond, func() bool { return c.admin(ctx, "GET", "", nil) == nil }); err != nil {
		return fmt.Errorf("fnmgr did not adopt %s: %w", fn, err)
	}
	if err := c.admin(ctx, "POST", "/versions", map[string]any{}); err != nil {
		return err
	}
	return c.admin(ctx, "PUT", "/aliases/prod", map[string]any{"version": 1})
}

// waitRunnable waits until every path runs the function.
func (c *client) waitRunnable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute) // for every path together
	defer cancel()
	for _, p := range c.paths() {
		ran := func() bool { _, ran := p.probe(ctx); return ran }
		if err := testkit.Await(ctx, time.Minute, 20*time.Millisecond, ran); err != nil {
			return fmt.Errorf("%s does not run the function after the unblock: %w", p.name, err)
		}
	}
	return nil
}
