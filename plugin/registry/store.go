package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/go-kivik/kivik/v4"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/plugin/reqerr"
)

// Sentinel errors, wrapped with %w: the request errors of package reqerr.
// A store's 404 or 409 wraps them and couch.ErrNotFound or
// couch.ErrConflict.
var (
	ErrNotFound = reqerr.ErrNotFound
	ErrConflict = reqerr.ErrConflict
)

// Store reads and writes the registry database. It is safe for concurrent
// use; every write is conditional on the document's revision.
type Store struct {
	docs Docs
	db   *kivik.DB // nil when docs is not CouchDB
	fns  fnCache
	now  func() time.Time
	// epoch is the lease epoch under which function documents may be
	// cached (CacheWhile); nil: always (one replica).
	epoch func() int64
}

// CacheWhile makes the Store cache function documents only while epoch
// reports a nonzero lease epoch, that is while this replica leads and so
// is the registry's only writer; entries cached under one epoch are never
// read under another. Without it (one replica, tests) the Store always
// caches. A follower that cached what it read would serve it, stale,
// after the leader changed it: a transition still in progress, a state
// long left. Call it before the Store is used.
func (s *Store) CacheWhile(epoch func() int64) { s.epoch = epoch }

// cacheEpoch is the epoch function documents are cached under now; 0:
// not at all.
func (s *Store) cacheEpoch() int64 {
	if s.epoch == nil {
		return 1
	}
	return s.epoch()
}

// New returns a Store over db (fnmgr's registry database). Reads and
// writes of single documents made at the same time by different callers
// (the change feed's workers) share requests (see couch.Batcher).
func New(db *kivik.DB) *Store {
	s := NewStore(NewCouchDocs(db))
	s.db = db
	return s
}

// NewStore returns a Store over docs (NewMemoryDocs for unit tests).
func NewStore(docs Docs) *Store { return &Store{docs: docs, now: time.Now} }

// DB returns the underlying CouchDB database (nil for a Store over
// another Docs).
func (s *Store) DB() *kivik.DB { return s.db }

// classify names op in a CouchDB error. A 404 or 409 (couch.Classify)
// becomes the registry's ErrNotFound or ErrConflict, which the admin API
// answers with; the cause stays in the chain (errors.Is(err,
// couch.ErrNotFound) holds too) but not in the message, which a client may
// read.
func classify(op string, err error) error {
	err = couch.Classify(err)
	switch {
	case errors.Is(err, couch.ErrNotFound):
		return &storeError{op: op, kind: ErrNotFound, cause: err}
	case errors.Is(err, couch.ErrConflict):
		return &storeError{op: op, kind: ErrConflict, cause: err}
	}
	return fmt.Errorf("registry: %s: %w", op, err)
}

// storeError is a CouchDB 404 or 409 in the registry's words.
type storeError struct {
	op          string // "get f:guest/hello"
	kind, cause error
}

func (e *storeError) Error() string   { return "registry: " + e.op + ": " + e.kind.Error() }
func (e *storeError) Unwrap() []error { return []error{e.kind, e.cause} }

// Sentence tells a client which function does not exist when the
// document missing is a function's (reqerr.Sentencer); other documents
// read as their kind's sentence.
func (e *storeError) Sentence() string {
	_, id, _ := strings.Cut(e.op, " ")
	if fqn, ok := strings.CutPrefix(id, "f:"); ok && e.kind == ErrNotFound {
		return "Function " + fqn + " does not exist (fnmgr has not seen such an action)."
	}
	return reqerr.Sentence(e.kind)
}

func (s *Store) get(ctx context.Context, id string, v any) error {
	if err := s.docs.Get(ctx, id, v); err != nil {
		return classify("get "+id, err)
	}
	return nil
}

// GetFunction reads function ns/name.
func (s *Store) GetFunction(ctx context.Context, ns, name string) (Function, error) {
	return s.getFunction(ctx, FunctionID(ns, name))
}

func (s *Store) getFunction(ctx context.Context, id string) (Function, error) {
	var f Function
	ep := s.cacheEpoch() // before the read: a read under an epoch that ended is not kept
	if raw, ok := s.fns.get(id, ep); ok {
		if err := json.Unmarshal(raw, &f); err == nil {
			return f, nil
		}
		f = Function{}
	}
	if err := s.get(ctx, id, &f); err != nil {
		return Function{}, err
	}
	if ep == s.cacheEpoch() {
		s.fns.put(f, ep)
	}
	return f, nil
}

// putFunction writes f and remembers it as stored.
func (s *Store) putFunction(ctx context.Context, f Function) (Function, error) {
	ep := s.cacheEpoch()
	rev, err := s.docs.Put(ctx, f.ID, f)
	if err != nil {
		s.fns.drop(f.ID)
		return Function{}, err
	}
	f.Rev = rev
	if ep == s.cacheEpoch() {
		s.fns.put(f, ep)
	} else {
		s.fns.drop(f.ID)
	}
	return f, nil
}

func (s *Store) newFunction(ns, name string) Function {
	return Function{ID: FunctionID(ns, name), Type: typeFunction, Namespace: ns, Name: name, State: Latest,
		Created: s.now().UTC(), Aliases: map[string]Alias{}, Versions: []VersionRef{}}
}

// Update applies fn to function ns/name and writes it, re-reading and
// re-applying on a conflict. A function that does not exist yet is passed
// in as a new document (Rev ""); fn returning an error leaves the document
// unchanged and returns that error. It returns the stored function.
func (s *Store) Update(ctx context.Context, ns, name string, fn func(f *Function) error) (Function, error) {
	id := FunctionID(ns, name)
	for attempt := 0; ; attempt++ {
		f, err := s.getFunction(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			f = s.newFunction(ns, name)
		case err != nil:
			return Function{}, err
		}
		if err := fn(&f); err != nil {
			return Function{}, err
		}
		f.Updated = s.now().UTC()
		stored, err := s.putFunction(ctx, f)
		if err == nil {
			return stored, nil
		}
		if !couch.IsConflict(err) || attempt > 50 {
			return Function{}, classify("update "+id, err)
		}
		if ctx.Err() != nil {
			return Function{}, ctx.Err()
		}
	}
}

// UpdateKnown is Update for a function just read (f): it writes from f
// without reading it again, and falls back to Update on a conflict.
func (s *Store) UpdateKnown(ctx context.Context, f Function, fn func(f *Function) error) (Function, error) {
	if f.Rev == "" {
		return s.Update(ctx, f.Namespace, f.Name, fn)
	}
	next := f
	next.Versions = append([]VersionRef(nil), f.Versions...)
	next.Aliases = maps.Clone(f.Aliases)
	if err := fn(&next); err != nil {
		return Function{}, err
	}
	next.Updated = s.now().UTC()
	return s.putOrUpdate(ctx, next, "update", fn)
}

// Create is Update for a function just found missing: it writes the new
// document without reading it again, and falls back to Update when it
// exists after all (a conflict).
func (s *Store) Create(ctx context.Context, ns, name string, fn func(f *Function) error) (Function, error) {
	f := s.newFunction(ns, name)
	if err := fn(&f); err != nil {
		return Function{}, err
	}
	f.Updated = s.now().UTC()
	return s.putOrUpdate(ctx, f, "create", fn)
}

// putOrUpdate writes f, to which fn was applied without reading it again;
// on a conflict (the stored document is not the one fn was applied to) it
// applies fn to the stored one with Update.
func (s *Store) putOrUpdate(ctx context.Context, f Function, op string, fn func(f *Function) error) (Function, error) {
	stored, err := s.putFunction(ctx, f)
	if err == nil {
		return stored, nil
	}
	if !couch.IsConflict(err) {
		return Function{}, classify(op+" "+f.ID, err)
	}
	return s.Update(ctx, f.Namespace, f.Name, fn)
}

// create writes a new immutable document; when one exists already it is
// read into existing and ErrConflict is returned.
func (s *Store) create(ctx context.Context, id string, v any, existing any) error {
	if _, err := s.docs.Put(ctx, id, v); err != nil {
		if couch.IsConflict(err) {
			if gerr := s.get(ctx, id, existing); gerr != nil {
				return gerr
			}
			return fmt.Errorf("registry: create %s: %w", id, ErrConflict)
		}
		return classify("create "+id, err)
	}
	return nil
}

// PutRevision stores r unless revision r.Revision exists; then the stored one
// is returned with ErrConflict.
func (s *Store) PutRevision(ctx context.Context, ns, name string, r Revision) (Revision, error) {
	r.ID, r.Type, r.Function = RevisionID(ns, name, r.Revision), typeRevision, ns+"/"+name
	var existing Revision
	if err := s.create(ctx, r.ID, r, &existing); err != nil {
		return existing, err
	}
	return r, nil
}

// PutVersion stores v unless version v.Version exists; then the stored one
// is returned with ErrConflict.
func (s *Store) PutVersion(ctx context.Context, ns, name string, v Version) (Version, error) {
	v.ID, v.Type, v.Function = VersionID(ns, name, v.Version), typeVersion, ns+"/"+name
	var existing Version
	if err := s.create(ctx, v.ID, v, &existing); err != nil {
		return existing, err
	}
	return v, nil
}

// GetRevision reads revision n of ns/name.
func (s *Store) GetRevision(ctx context.Context, ns, name string, n int) (Revision, error) {
	var r Revision
	err := s.get(ctx, RevisionID(ns, name, n), &r)
	return r, err
}

// GetVersion reads version n of ns/name.
func (s *Store) GetVersion(ctx context.Context, ns, name string, n int) (Version, error) {
	var v Version
	err := s.get(ctx, VersionID(ns, name, n), &v)
	return v, err
}

// Revisions lists the revisions of ns/name, newest first.
func (s *Store) Revisions(ctx context.Context, ns, name string, limit, skip int) ([]Revision, error) {
	var out []Revision
	err := s.scan(ctx, fmt.Sprintf("r:%s/%s:", ns, name), true, limit, skip, func(raw json.RawMessage) error {
		var r Revision
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// Versions lists the versions of ns/name, oldest first.
func (s *Store) Versions(ctx context.Context, ns, name string) ([]Version, error) {
	var out []Version
	err := s.scan(ctx, fmt.Sprintf("v:%s/%s:", ns, name), false, 0, 0, func(raw json.RawMessage) error {
		var v Version
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// Functions lists the functions of namespace ns (all namespaces when ns is
// ""), in name order.
func (s *Store) Functions(ctx context.Context, ns string, each func(Function) error) error {
	prefix := "f:"
	if ns != "" {
		prefix += ns + "/"
	}
	return s.scan(ctx, prefix, false, 0, 0, func(raw json.RawMessage) error {
		var f Function
		if err := json.Unmarshal(raw, &f); err != nil {
			return err
		}
		return each(f)
	})
}

// DeleteDoc deletes a registry document by id (used by retention and purge).
func (s *Store) DeleteDoc(ctx context.Context, id, rev string) error {
	s.fns.drop(id)
	if err := s.docs.Delete(ctx, id, rev); err != nil {
		return classify("delete "+id, err)
	}
	return nil
}

// scan reads documents whose ids start with prefix, in id order (reverse
// when desc), in pages.
func (s *Store) scan(ctx context.Context, prefix string, desc bool, limit, skip int, each func(json.RawMessage) error) error {
	const page = 500
	lo, hi := prefix, prefix+"\ufff0"
	start, end := lo, hi
	if desc {
		start, end = hi, lo
	}
	seen, skipped := 0, 0
	for {
		rows, err := s.docs.Page(ctx, start, end, desc, page+1)
		if err != nil {
			return classify("scan "+prefix, err)
		}
		next := ""
		if len(rows) > page {
			next = rows[page].ID
			rows = rows[:page]
		}
		for _, row := range rows {
			if skipped < skip {
				skipped++
				continue
			}
			if err := each(row.Doc); err != nil {
				return fmt.Errorf("registry: scan %s: %w", prefix, err)
			}
			seen++
			if limit > 0 && seen >= limit {
				return nil
			}
		}
		if next == "" {
			return nil
		}
		start = next
	}
}

// Checkpoints stores a change-feed checkpoint in the registry database.
type Checkpoints struct {
	s  *Store
	id string
}

// Checkpoint returns the checkpoint store named name ("whisks").
func (s *Store) Checkpoint(name string) *Checkpoints {
	return &Checkpoints{s: s, id: "checkpoint:" + name}
}

type checkpointDoc struct {
	ID      string    `json:"_id"`
	Rev     string    `json:"_rev,omitempty"`
	Seq     string    `json:"seq"`
	Updated time.Time `json:"updated"`
}

// Load returns the stored sequence, or "".
func (c *Checkpoints) Load(ctx context.Context) (string, error) {
	var d checkpointDoc
	if err := c.s.get(ctx, c.id, &d); err != nil {
		if errors.Is(err, ErrNotFound) {
			return "", nil
		}
		return "", err
	}
	return d.Seq, nil
}

// Save stores seq.
func (c *Checkpoints) Save(ctx context.Context, seq string) error {
	for {
		var d checkpointDoc
		if err := c.s.get(ctx, c.id, &d); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		d.ID, d.Seq, d.Updated = c.id, seq, c.s.now().UTC()
		_, err := c.s.docs.Put(ctx, c.id, d)
		if err == nil {
			return nil
		}
		if !couch.IsConflict(err) || ctx.Err() != nil {
			return classify("save "+c.id, err)
		}
	}
}

// historyDoc is a history entry as the registry keeps it: a document of
// its own, h:<namespace>/<name>:<%020d nanoseconds>.
type historyDoc struct {
	ID       string `json:"_id,omitempty"`
	Rev      string `json:"_rev,omitempty"`
	Type     string `json:"type,omitempty"`
	Function string `json:"function,omitempty"`
	History
}

func historyID(ns, name string, at time.Time) string {
	return fmt.Sprintf("h:%s/%s:%020d", ns, name, at.UnixNano())
}

// AddHistory appends an audit record of function ns/name.
func (s *Store) AddHistory(ctx context.Context, ns, name string, h History) error {
	if h.At.IsZero() {
		h.At = s.now().UTC()
	}
	d := historyDoc{ID: historyID(ns, name, h.At), Type: typeHistory, Function: ns + "/" + name, History: h}
	for {
		_, err := s.docs.Put(ctx, d.ID, d)
		if err == nil {
			return nil
		}
		if !couch.IsConflict(err) {
			return classify("add history of "+ns+"/"+name, err)
		}
		d.At = d.At.Add(time.Nanosecond)
		d.ID = historyID(ns, name, d.At)
	}
}

// AddHistoryOnce records h as the audit record of the operation that
// started at key: recording it again (a retry after a crash) changes
// nothing, so each operation is one entry. Records sort by key.
func (s *Store) AddHistoryOnce(ctx context.Context, ns, name string, key time.Time, h History) error {
	if h.At.IsZero() {
		h.At = s.now().UTC()
	}
	d := historyDoc{ID: historyID(ns, name, key), Type: typeHistory, Function: ns + "/" + name, History: h}
	_, err := s.docs.Put(ctx, d.ID, d)
	if err == nil || couch.IsConflict(err) {
		return nil
	}
	return classify("add history of "+ns+"/"+name, err)
}

// History lists the audit records of ns/name, oldest first.
func (s *Store) History(ctx context.Context, ns, name string) ([]History, error) {
	out := []History{}
	err := s.scan(ctx, fmt.Sprintf("h:%s/%s:", ns, name), false, 0, 0, func(raw json.RawMessage) error {
		var d historyDoc
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		out = append(out, d.History)
		return nil
	})
	return out, err
}

// Digests returns every code digest a revision or version still references,
// across all functions (artifacts are shared by digest).
func (s *Store) Digests(ctx context.Context) (map[string]bool, error) {
	used := map[string]bool{}
	for _, prefix := range []string{"r:", "v:"} {
		err := s.scan(ctx, prefix, false, 0, 0, func(raw json.RawMessage) error {
			var d struct {
				Snapshot Snapshot `json:"snapshot"`
			}
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			if c := d.Snapshot.Exec.CodeDigest; c != "" {
				used[c] = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return used, nil
}
