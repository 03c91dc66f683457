// Package subjects reads OpenWhisk's subjects database through its
// identities view, the one source of API keys in fnmgr: the admin API and
// the gateway ask it who a key belongs to (Identify), fnmgr's own calls of
// OpenWhisk's API ask it for a namespace's key (KeyFor).
//
// OpenWhisk's identities view (auth_design_document_for_subjects_db_v2.0.0
// .json in the contract) emits, for every namespace of a subject that is
// not blocked, the keys [namespace] and [uuid, key] with the value
// {namespace, uuid, key}; a deleted or blocked subject has no rows.
// OpenWhisk's controllers read it the same two ways
// (common/scala/.../core/entity/Identity.scala: Identity.get(namespace) and
// Identity.get(authkey)).
//
// Both lookups are remembered for at most one expiry (--key-cache-ttl), so
// a deleted, blocked or rotated key stops working within the expiry plus
// one lookup, and both fail closed: when CouchDB cannot answer, the caller
// gets an error that is neither ErrUnknownKey nor ErrNoKey and nothing is
// remembered. Keys are secrets: they are never logged, never part of an
// error, and the cache of identities is keyed by a hash of the
// credentials. A Source is safe for concurrent use.
package subjects

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/go-kivik/kivik/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/couch/entity"
)

const (
	designDoc      = "_design/subjects.v2.0.0"
	identitiesView = "identities"
)

// DefaultTTL is how long a lookup is remembered: short enough that a
// deleted, blocked or rotated key is refused within 30 s, the expiry plus
// the time to read the subject again (OpenWhisk's own controllers cache
// identities with a write-time expiry too: Identity.scala, evictionPolicy
// WriteTime).
const DefaultTTL = 25 * time.Second

var (
	// ErrUnknownKey is returned by Identify when no subject that is not
	// blocked holds the key.
	ErrUnknownKey = errors.New("subjects: unknown or blocked key")
	// ErrNoKey is returned by KeyFor when no subject owns the namespace
	// (none does, or its subject was deleted or blocked).
	ErrNoKey = errors.New("subjects: no subject owns this namespace")
)

// Options configure a Source.
type Options struct {
	// TTL is how long a lookup that found a subject is remembered;
	// DefaultTTL when zero, nothing remembered when negative. Lookups that
	// found nothing or failed are never remembered.
	TTL time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Logger gets a line for each row of the view that cannot be decoded
	// (its document id, never a key).
	Logger *slog.Logger
	// Registerer takes fnmgr_subjects_undecodable_total; none when nil.
	Registerer prometheus.Registerer
}

// Identity is who a key belongs to.
type Identity struct {
	// Subject is the OpenWhisk subject.
	Subject string
	// Namespace is the namespace the key was issued for.
	Namespace string
	// Namespaces are every namespace the subject owns.
	Namespaces []string
}

// Source reads the subjects database db.
type Source struct {
	db          *kivik.DB
	now         func() time.Time
	log         *slog.Logger
	undecodable prometheus.Counter
	identities  *cache[[sha256.Size]byte, Identity]
	keys        *cache[string, string]
}

// New reads subjects from db (the <prefix>subjects database). It fails
// only when o.Registerer refuses the metric.
func New(db *kivik.DB, o Options) (*Source, error) {
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Source{db: db, now: o.Now, log: o.Logger.With("component", "subjects"),
		undecodable: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "fnmgr", Name: "subjects_undecodable_total",
			Help: "Rows of OpenWhisk's identities view (subjects database) that could not be decoded into a namespace's key; the subject's namespace cannot be invoked by fnmgr."}),
		identities: newCache[[sha256.Size]byte, Identity](o.TTL),
		keys:       newCache[string, string](o.TTL),
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(s.undecodable); err != nil {
			return nil, fmt.Errorf("subjects: register metrics: %w", err)
		}
	}
	return s, nil
}

// Identify returns who holds the key uuid:key: ErrUnknownKey (wrapped)
// when no subject that is not blocked does, another error when the
// database cannot tell.
func (s *Source) Identify(ctx context.Context, uuid, key string) (Identity, error) {
	h := sha256.Sum256([]byte(uuid + ":" + key))
	now := s.now()
	if id, ok := s.identities.get(now, h); ok {
		return id, nil
	}
	id, err := s.identify(ctx, uuid, key)
	if err != nil {
		return Identity{}, err
	}
	s.identities.put(now, h, id)
	return id, nil
}

// KeyFor returns the API key ("uuid:key") of namespace ns: ErrNoKey
// (wrapped) when no subject owns it, another error when the database
// cannot tell.
func (s *Source) KeyFor(ctx context.Context, ns string) (string, error) {
	now := s.now()
	if key, ok := s.keys.get(now, ns); ok {
		return key, nil
	}
	key, err := s.keyFor(ctx, ns)
	if err != nil {
		if errors.Is(err, ErrNoKey) {
			s.keys.forget(ns)
		}
		return "", err
	}
	s.keys.put(now, ns, key)
	return key, nil
}

// Forget drops ns's remembered key (the controller refused it: rotated).
func (s *Source) Forget(ns string) { s.keys.forget(ns) }

// viewValue is the value of a row of the identities view.
type viewValue struct {
	Namespace string `json:"namespace"`
	UUID      string `json:"uuid"`
	Key       string `json:"key"`
}

func (s *Source) identify(ctx context.Context, uuid, key string) (Identity, error) {
	rows := s.db.Query(ctx, designDoc, identitiesView, kivik.Param("key", []string{uuid, key}))
	defer rows.Close()
	var docID string
	for rows.Next() {
		id, err := rows.ID()
		if err != nil {
			return Identity{}, fmt.Errorf("subjects: identities view row: %w", err)
		}
		docID = id
		break
	}
	if err := rows.Err(); err != nil {
		return Identity{}, s.queryError(err)
	}
	if docID == "" {
		return Identity{}, ErrUnknownKey
	}
	var subj entity.Subject
	if err := s.db.Get(ctx, docID).ScanDoc(&subj); err != nil {
		if couch.IsNotFound(err) {
			return Identity{}, ErrUnknownKey // deleted since the view ran
		}
		return Identity{}, fmt.Errorf("subjects: read subject %q: %w", docID, withoutURL(err))
	}
	return identityOf(subj, uuid, key)
}

// identityOf checks that subj (not blocked) owns the key and returns the
// identity it gives.
func identityOf(subj entity.Subject, uuid, key string) (Identity, error) {
	if subj.Blocked {
		return Identity{}, ErrUnknownKey
	}
	id := Identity{Subject: subj.Subject}
	for _, ns := range subj.Namespaces {
		id.Namespaces = append(id.Namespaces, ns.Name)
		if subtle.ConstantTimeCompare([]byte(ns.UUID), []byte(uuid)) == 1 &&
			subtle.ConstantTimeCompare([]byte(ns.Key), []byte(key)) == 1 {
			id.Namespace = ns.Name
		}
	}
	if id.Namespace == "" {
		return Identity{}, fmt.Errorf("%w: the subject no longer holds the key", ErrUnknownKey)
	}
	return id, nil
}

func (s *Source) keyFor(ctx context.Context, ns string) (string, error) {
	rows := s.db.Query(ctx, designDoc, identitiesView, kivik.Param("key", []string{ns}))
	defer rows.Close()
	for rows.Next() {
		var v viewValue
		if err := rows.ScanValue(&v); err != nil || v.Namespace != ns || v.UUID == "" || v.Key == "" {
			id, _ := rows.ID()
			s.undecodable.Inc()
			reason := "no uuid or key"
			if err != nil {
				reason = "not a JSON object"
			}
			s.log.WarnContext(ctx, "a subject in the identities view cannot be decoded; skipping it", "subject", id, "namespace", ns, "reason", reason)
			continue
		}
		return v.UUID + ":" + v.Key, nil
	}
	if err := rows.Err(); err != nil {
		return "", s.queryError(err)
	}
	return "", fmt.Errorf("%w: %s", ErrNoKey, ns)
}

func (s *Source) queryError(err error) error {
	return fmt.Errorf("subjects: query %s/%s/_view/%s: %w", s.db.Name(), designDoc, identitiesView, withoutURL(err))
}

// withoutURL drops the request URL from a transport error: the view is
// queried by [uuid, key], so the URL holds the caller's key, and errors
// are logged.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s the identities view: %w", ue.Op, ue.Err)
	}
	return err
}

// cache remembers values for ttl after they were read (nothing when ttl
// is negative).
type cache[K comparable, V any] struct {
	ttl  time.Duration
	mu   sync.Mutex
	got  map[K]cached[V]
	zero V
}

type cached[V any] struct {
	v       V
	expires time.Time
}

func newCache[K comparable, V any](ttl time.Duration) *cache[K, V] {
	return &cache[K, V]{ttl: ttl, got: map[K]cached[V]{}}
}

func (c *cache[K, V]) get(now time.Time, k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.got[k]
	if !ok || !now.Before(e.expires) {
		return c.zero, false
	}
	return e.v, true
}

func (c *cache[K, V]) put(now time.Time, k K, v V) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.got { // drop the expired while here
		if !now.Before(e.expires) {
			delete(c.got, k)
		}
	}
	c.got[k] = cached[V]{v: v, expires: now.Add(c.ttl)}
}

func (c *cache[K, V]) forget(k K) {
	c.mu.Lock()
	delete(c.got, k)
	c.mu.Unlock()
}
