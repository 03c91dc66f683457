package controller

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/kafka/message"
)

// identity is an authenticated subject acting in one namespace.
type identity struct {
	Subject   string
	Namespace string
	UUID      string
	Key       string
	// Limits is the namespace limits document, nil when there is none.
	Limits *entity.NamespaceLimits
}

// apiKey is "uuid:key" (a secret: never log it).
func (id *identity) apiKey() string { return id.UUID + ":" + id.Key }

// LogValue keeps the key out of logs.
func (id *identity) LogValue() slog.Value { return slog.StringValue(id.Subject + "/" + id.Namespace) }

// message returns the Identity of an activation message.
func (id *identity) message() message.Identity {
	lim := json.RawMessage("{}")
	if id.Limits != nil {
		l := *id.Limits
		l.DocMeta = entity.DocMeta{}
		if b, err := json.Marshal(l); err == nil {
			lim = b
		}
	}
	return message.Identity{
		Subject:   id.Subject,
		Namespace: message.Namespace{Name: id.Namespace, UUID: id.UUID},
		AuthKey:   message.AuthKey{APIKey: id.apiKey()},
		Rights:    []string{"READ", "PUT", "DELETE", "ACTIVATE"},
		Limits:    lim,
	}
}

// identityCache caches identities by a hash of the credentials (or by
// namespace) until a fixed time after they were read.
type identityCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]identityEntry
}

type identityEntry struct {
	id      *identity
	expires time.Time
}

func (c *identityCache) get(k string) (*identity, bool) {
	if c.ttl <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || time.Now().After(e.expires) {
		delete(c.m, k)
		return nil, false
	}
	return e.id, true
}

func (c *identityCache) put(k string, id *identity) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]identityEntry{}
	}
	c.m[k] = identityEntry{id: id, expires: time.Now().Add(c.ttl)}
}

// errUnauthenticated is a 401 with OpenWhisk's challenge.
func errUnauthenticated(msg string) *apiError {
	e := errStatus(http.StatusUnauthorized, msg)
	e.header = http.Header{"Www-Authenticate": {`Basic realm="OpenWhisk secure realm"`}}
	return e
}

// authenticate checks the request's Basic credentials against the subjects
// database.
func (c *Controller) authenticate(r *http.Request) (*identity, error) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		if r.Header.Get("Authorization") == "" {
			return nil, errUnauthenticated(msgAuthMissing)
		}
		return nil, errUnauthenticated(msgAuthRejected)
	}
	id, err := c.identityByKey(r.Context(), user, pass)
	if errors.Is(err, errDocNotFound) {
		return nil, errUnauthenticated(msgAuthRejected)
	}
	if err != nil {
		c.log.Error("identity lookup failed", "err", err)
		return nil, errInternal
	}
	return id, nil
}

// identityByKey looks up uuid:key in the identities view (blocked subjects
// are not emitted by it).
func (c *Controller) identityByKey(ctx context.Context, uuid, key string) (*identity, error) {
	sum := sha256.Sum256([]byte(uuid + ":" + key))
	ck := "k:" + string(sum[:])
	if id, ok := c.identities.get(ck); ok {
		return id, nil
	}
	id, err := c.lookupIdentity(ctx, []string{uuid, key})
	if err != nil {
		return nil, err
	}
	if id.UUID != uuid || id.Key != key {
		return nil, errDocNotFound
	}
	c.identities.put(ck, id)
	return id, nil
}

// identityByNamespace returns the owner of a namespace (web actions run as
// the action's owner).
func (c *Controller) identityByNamespace(ctx context.Context, ns string) (*identity, error) {
	ck := "n:" + ns
	if id, ok := c.identities.get(ck); ok {
		return id, nil
	}
	id, err := c.lookupIdentity(ctx, []string{ns})
	if err != nil {
		return nil, err
	}
	c.identities.put(ck, id)
	return id, nil
}

func (c *Controller) lookupIdentity(ctx context.Context, key []string) (*identity, error) {
	rows, err := query(ctx, c.store.subjects, viewQuery{ddoc: ddocSubjects, view: viewIdentities, key: key})
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("controller: identity: %w", errDocNotFound)
	}
	var v struct {
		Namespace string `json:"namespace"`
		UUID      string `json:"uuid"`
		Key       string `json:"key"`
	}
	if err := json.Unmarshal(rows[0].Value, &v); err != nil {
		return nil, fmt.Errorf("controller: identity row: %w", err)
	}
	id := &identity{Subject: rows[0].ID, Namespace: v.Namespace, UUID: v.UUID, Key: v.Key}
	raw, err := getRaw(ctx, c.store.subjects, v.Namespace+"/limits")
	switch {
	case err == nil:
		var l entity.NamespaceLimits
		if json.Unmarshal(raw, &l) == nil {
			id.Limits = &l
		}
	case !errors.Is(err, errDocNotFound):
		return nil, err
	}
	return id, nil
}

// resolveNamespace maps the path namespace ("_" = the caller's) and checks
// the caller may act in it; resource names the target for the 403 text.
func resolveNamespace(id *identity, ns string, resource func(ns string) string) (string, error) {
	if ns == defaultNS {
		ns = id.Namespace
	}
	if err := checkName(ns); err != nil {
		return "", err
	}
	if ns != id.Namespace {
		return "", errStatus(http.StatusForbidden, msgForbidden(resource(ns)))
	}
	return ns, nil
}

// blockedNamespace reports a namespace whose limits document sets
// invocationsPerMinute or concurrentInvocations to 0.
func (id *identity) blocked() bool {
	l := id.Limits
	return l != nil && ((l.InvocationsPerMinute != nil && *l.InvocationsPerMinute == 0) ||
		(l.ConcurrentInvocations != nil && *l.ConcurrentInvocations == 0))
}
