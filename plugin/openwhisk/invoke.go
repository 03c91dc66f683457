package openwhisk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// Invoker calls actions through a controller's REST API as their
// namespace.
type Invoker struct {
	APIHost string
	Keys    KeySource
	HTTP    *http.Client
}

// Invoke runs ns/action blocking with payload and returns its result; an
// activation that did not succeed is an error carrying its message.
func (i *Invoker) Invoke(ctx context.Context, ns, action string, payload json.RawMessage) (json.RawMessage, error) {
	key, err := i.Keys.KeyFor(ctx, ns)
	if err != nil {
		return nil, err
	}
	uuid, secret, _ := strings.Cut(key, ":")
	hc := i.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 70 * time.Second}
	}
	if len(payload) == 0 {
		payload = json.RawMessage(`{}`)
	}
	u := strings.TrimSuffix(i.APIHost, "/") + "/api/v1/namespaces/" + url.PathEscape(ns) + "/actions/" +
		escapeAction(action) + "?blocking=true"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("openwhisk: invoke %s/%s: %w", ns, action, err)
	}
	req.SetBasicAuth(uuid, secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("openwhisk: invoke %s/%s: %w", ns, action, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("openwhisk: invoke %s/%s: %w", ns, action, err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		// The key changed since it was read (rotated): read it again next time.
		if f, ok := i.Keys.(interface{ Forget(ns string) }); ok {
			f.Forget(ns)
		}
	}
	var act entity.ActivationView
	_ = json.Unmarshal(body, &act)
	switch {
	case resp.StatusCode == http.StatusOK && act.Response.Success:
		return act.Response.Result, nil
	case act.ActivationID != "":
		var r struct {
			Error json.RawMessage `json:"error"`
		}
		_ = json.Unmarshal(act.Response.Result, &r)
		return nil, fmt.Errorf("openwhisk: %s/%s ended with %s: %s", ns, action, act.Response.Status, truncate(string(r.Error), 300))
	default:
		var e entity.Error
		_ = json.Unmarshal(body, &e)
		return nil, fmt.Errorf("openwhisk: invoke %s/%s: %s: %s", ns, action, resp.Status, truncate(e.Error, 300))
	}
}

func escapeAction(a string) string {
	parts := strings.Split(a, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
