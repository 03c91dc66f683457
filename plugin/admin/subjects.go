package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/go-kivik/kivik/v4"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/couch/entity"
)

// OpenWhisk's view from a subject key to its namespace (see the contract's
// auth_design_document_for_subjects_db_v2.0.0.json). Blocked subjects are
// not emitted.
const (
	subjectsDesignDoc = "_design/subjects.v2.0.0"
	identitiesView    = "identities"
)

// DefaultSubjectsCacheTTL is how long a resolved key is remembered: short
// enough that a deleted, blocked or rotated key is refused within 30 s,
// the expiry plus the time to read the subject again (OpenWhisk's own
// controllers cache identities with a write-time expiry too:
// common/scala/.../core/entity/Identity.scala, evictionPolicy WriteTime).
const DefaultSubjectsCacheTTL = 25 * time.Second

// SubjectsOptions configures a SubjectsAuthenticator.
type SubjectsOptions struct {
	// CacheTTL is how long a resolved key is remembered (unknown keys are
	// not); DefaultSubjectsCacheTTL when zero, no cache when negative.
	CacheTTL time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// SubjectsAuthenticator resolves keys against OpenWhisk's subjects database
// (<prefix>subjects): the identities view maps [uuid, key] to the subject
// document, whose namespaces the key then reaches. It is safe for
// concurrent use; it caches successes for CacheTTL, keyed by a hash of the
// credentials (the key itself is not kept).
type SubjectsAuthenticator struct {
	db   *kivik.DB
	ttl  time.Duration
	now  func() time.Time
	mu   sync.Mutex
	seen map[[sha256.Size]byte]cached
}

type cached struct {
	id      Identity
	expires time.Time
}

// NewSubjectsAuthenticator reads subjects from db.
func NewSubjectsAuthenticator(db *kivik.DB, o SubjectsOptions) *SubjectsAuthenticator {
	if o.CacheTTL == 0 {
		o.CacheTTL = DefaultSubjectsCacheTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &SubjectsAuthenticator{db: db, ttl: o.CacheTTL, now: o.Now, seen: map[[sha256.Size]byte]cached{}}
}

// Authenticate implements Authenticator.
func (s *SubjectsAuthenticator) Authenticate(ctx context.Context, uuid, key string) (Identity, error) {
	h := sha256.Sum256([]byte(uuid + ":" + key))
	now := s.now()
	s.mu.Lock()
	c, ok := s.seen[h]
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.id, nil
	}
	id, err := s.lookup(ctx, uuid, key)
	if err != nil {
		return Identity{}, err
	}
	if s.ttl > 0 {
		s.mu.Lock()
		for k, c := range s.seen { // drop the expired while here
			if !now.Before(c.expires) {
				delete(s.seen, k)
			}
		}
		s.seen[h] = cached{id: id, expires: now.Add(s.ttl)}
		s.mu.Unlock()
	}
	return id, nil
}

func (s *SubjectsAuthenticator) lookup(ctx context.Context, uuid, key string) (Identity, error) {
	rs := s.db.Query(ctx, subjectsDesignDoc, identitiesView, kivik.Param("key", []string{uuid, key}))
	defer rs.Close()
	var docID string
	for rs.Next() {
		id, err := rs.ID()
		if err != nil {
			return Identity{}, fmt.Errorf("admin: subjects view row: %w", err)
		}
		docID = id
		break
	}
	if err := rs.Err(); err != nil {
		return Identity{}, fmt.Errorf("admin: query %s/%s/_view/%s: %w", s.db.Name(), subjectsDesignDoc, identitiesView, withoutURL(err))
	}
	if docID == "" {
		return Identity{}, ErrUnauthenticated
	}
	var subj entity.Subject
	if err := s.db.Get(ctx, docID).ScanDoc(&subj); err != nil {
		if couch.IsNotFound(err) {
			return Identity{}, ErrUnauthenticated // deleted since the view ran
		}
		return Identity{}, fmt.Errorf("admin: read subject %q: %w", docID, err)
	}
	return identityOf(subj, uuid, key)
}

// identityOf checks that subj (not blocked) owns the key and returns the
// identity it gives.
func identityOf(subj entity.Subject, uuid, key string) (Identity, error) {
	if subj.Blocked {
		return Identity{}, ErrUnauthenticated
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
		return Identity{}, errors.Join(ErrUnauthenticated, errors.New("admin: the subject no longer holds the key"))
	}
	return id, nil
}

// withoutURL drops the request URL from a transport error: the view is
// queried by [uuid, key], so the URL holds the caller's key, and the error
// is logged.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s the identities view: %w", ue.Op, ue.Err)
	}
	return err
}
