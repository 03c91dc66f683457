package openwhisk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-kivik/kivik/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// OpenWhisk's identities view in the subjects database
// (auth_design_document_for_subjects_db_v2.0.0.json): it emits, for every
// namespace of a subject that is not blocked, [namespace] and [uuid, key]
// with the value {namespace, uuid, key}. A deleted or blocked subject has
// no rows. OpenWhisk's controllers look a namespace's key up the same way
// (common/scala/.../core/entity/Identity.scala, Identity.get(namespace)).
const (
	subjectsDesignDoc = "_design/subjects.v2.0.0"
	identitiesView    = "identities"
)

// DefaultKeyTTL is how long a key read from the subjects database is used
// before it is read again: the admin API's authenticator's expiry, so that
// a deleted, blocked or rotated key stops being used within 30 s.
const DefaultKeyTTL = 25 * time.Second

// KeysOptions configure Keys.
type KeysOptions struct {
	// TTL is how long a key is remembered; DefaultKeyTTL when zero, no
	// cache when negative.
	TTL time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Logger gets a line for each subject row that cannot be decoded (its
	// document id, never a key).
	Logger *slog.Logger
	// Registerer takes fnmgr_subjects_undecodable_total; none when nil.
	Registerer prometheus.Registerer
}

// Keys finds a namespace's API key ("uuid:key") through OpenWhisk's
// identities view, so fnmgr can call OpenWhisk's API as that namespace.
// Keys are secrets: they are never logged and never put in errors; the
// cache is keyed by namespace and forgets a key after TTL.
type Keys struct {
	db          *kivik.DB
	ttl         time.Duration
	now         func() time.Time
	log         *slog.Logger
	undecodable prometheus.Counter
	mu          sync.Mutex
	got         map[string]cachedKey
}

type cachedKey struct {
	key     string
	expires time.Time
}

// NewKeys reads keys from the subjects database db. It fails only when
// o.Registerer refuses the metric.
func NewKeys(db *kivik.DB, o KeysOptions) (*Keys, error) {
	if o.TTL == 0 {
		o.TTL = DefaultKeyTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	k := &Keys{db: db, ttl: o.TTL, now: o.Now, log: o.Logger.With("component", "openwhisk"), got: map[string]cachedKey{},
		undecodable: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "fnmgr", Name: "subjects_undecodable_total",
			Help: "Rows of OpenWhisk's identities view (subjects database) that could not be decoded into a namespace's key; the subject's namespace cannot be invoked by fnmgr."})}
	if o.Registerer != nil {
		if err := o.Registerer.Register(k.undecodable); err != nil {
			return nil, fmt.Errorf("openwhisk: register metrics: %w", err)
		}
	}
	return k, nil
}

// ErrNoKey is returned when no subject owns the namespace (none does, or
// its subject was deleted or blocked).
var ErrNoKey = errors.New("openwhisk: no subject owns this namespace")

// KeyFor returns the API key of namespace ns.
func (k *Keys) KeyFor(ctx context.Context, ns string) (string, error) {
	now := k.now()
	k.mu.Lock()
	c, ok := k.got[ns]
	k.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.key, nil
	}
	key, err := k.lookup(ctx, ns)
	if err != nil {
		if errors.Is(err, ErrNoKey) {
			k.Forget(ns)
		}
		return "", err
	}
	if k.ttl > 0 {
		k.mu.Lock()
		for n, c := range k.got { // drop the expired while here
			if !now.Before(c.expires) {
				delete(k.got, n)
			}
		}
		k.got[ns] = cachedKey{key: key, expires: now.Add(k.ttl)}
		k.mu.Unlock()
	}
	return key, nil
}

// Forget drops ns's cached key (the controller refused it: rotated).
func (k *Keys) Forget(ns string) {
	k.mu.Lock()
	delete(k.got, ns)
	k.mu.Unlock()
}

func (k *Keys) lookup(ctx context.Context, ns string) (string, error) {
	rows := k.db.Query(ctx, subjectsDesignDoc, identitiesView, kivik.Param("key", []string{ns}))
	defer rows.Close()
	for rows.Next() {
		var v struct {
			Namespace string `json:"namespace"`
			UUID      string `json:"uuid"`
			Key       string `json:"key"`
		}
		if err := rows.ScanValue(&v); err != nil || v.Namespace != ns || v.UUID == "" || v.Key == "" {
			id, _ := rows.ID()
			k.undecodable.Inc()
			reason := "no uuid or key"
			if err != nil {
				reason = "not a JSON object"
			}
			k.log.WarnContext(ctx, "a subject in the identities view cannot be decoded; skipping it", "subject", id, "namespace", ns, "reason", reason)
			continue
		}
		return v.UUID + ":" + v.Key, nil
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("openwhisk: query %s/%s/_view/%s: %w", k.db.Name(), subjectsDesignDoc, identitiesView, err)
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
