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
	"sync"
	"time"

	"github.com/go-kivik/kivik/v4"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// Keys finds a namespace's API key ("uuid:key") in OpenWhisk's subjects
// database, so fnmgr can call OpenWhisk's API as that namespace. Keys are
// secrets: they are never logged and never put in errors.
type Keys struct {
	db  *kivik.DB
	mu  sync.Mutex
	got map[string]string
}

// NewKeys reads keys from the subjects database db.
func NewKeys(db *kivik.DB) *Keys { return &Keys{db: db, got: map[string]string{}} }

// ErrNoKey is returned when no subject owns the namespace.
var ErrNoKey = errors.New("openwhisk: no subject owns this namespace")

// KeyFor returns the API key of namespace ns.
func (k *Keys) KeyFor(ctx context.Context, ns string) (string, error) {
	k.mu.Lock()
	key, ok := k.got[ns]
	k.mu.Unlock()
	if ok {
		return key, nil
	}
	rows := k.db.AllDocs(ctx, kivik.Param("include_docs", true))
	defer rows.Close()
	for rows.Next() {
		var s entity.Subject
		if err := rows.ScanDoc(&s); err != nil || s.Blocked {
			continue
		}
		for _, n := range s.Namespaces {
			if n.Name == ns && n.UUID != "" && n.Key != "" {
				key = n.UUID + ":" + n.Key
				k.mu.Lock()
				k.got[ns] = key
				k.mu.Unlock()
				return key, nil
			}
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("openwhisk: read subjects: %w", err)
	}
	return "", fmt.Errorf("%w: %s", ErrNoKey, ns)
}

// Invoker calls actions through a controller's REST API as their
// namespace.
type Invoker struct {
	APIHost string
	Keys    interface {
		KeyFor(ctx context.Context, ns string) (string, error)
	}
	HTTP *http.Client
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
