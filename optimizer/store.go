package optimizer

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/go-kivik/kivik/v4"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/optimizer/report"
)

// Status of a run.
type Status string

// Statuses. A run is queued until one of the service's slots frees,
// running while it probes, then succeeded, failed or cancelled.
const (
	Queued    Status = "queued"
	Running   Status = "running"
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
	Cancelled Status = "cancelled"
)

// Done reports whether the run has ended.
func (s Status) Done() bool { return s == Succeeded || s == Failed || s == Cancelled }

// Progress counts invocations made against the invocation budget.
type Progress struct {
	Done  int `json:"done"`
	Total int `json:"total"`
}

// Run is one optimization as the admin API shows it.
type Run struct {
	ID        string         `json:"id"`
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Status    Status         `json:"status"`
	Progress  Progress       `json:"progress"`
	Request   Stored         `json:"request"`
	By        string         `json:"by,omitempty"`
	Error     string         `json:"error,omitempty"`
	Created   time.Time      `json:"created"`
	Updated   time.Time      `json:"updated"`
	Finished  *time.Time     `json:"finished,omitempty"`
	Report    *report.Report `json:"report,omitempty"`
}

// Store keeps runs. Get answers an error wrapping ErrNotFound for a run
// it does not hold; List returns the runs of ns/name (every run when ns is
// empty), in any order. Implementations must be safe for concurrent use.
type Store interface {
	Get(ctx context.Context, ns, name, id string) (Run, error)
	Put(ctx context.Context, r Run) error
	List(ctx context.Context, ns, name string) ([]Run, error)
}

// RunID is the document id of run id of ns/name in a CouchStore.
func RunID(ns, name, id string) string { return "o:" + ns + "/" + name + ":" + id }

// runDoc is a run as a CouchStore keeps it.
type runDoc struct {
	DocID string `json:"_id"`
	Rev   string `json:"_rev,omitempty"`
	Type  string `json:"type"`
	Run
}

const typeOptimization = "optimization"

// CouchStore keeps runs in a CouchDB database of their own (fnmgr's
// <db-prefix>optimizations), one document o:<ns>/<name>:<run id> each.
type CouchStore struct {
	DB *kivik.DB
}

// Get implements Store.
func (s CouchStore) Get(ctx context.Context, ns, name, id string) (Run, error) {
	var d runDoc
	if err := s.DB.Get(ctx, RunID(ns, name, id)).ScanDoc(&d); err != nil {
		if couch.IsNotFound(err) {
			return Run{}, requestErr(ErrNotFound, "no optimization %s of %s/%s", id, ns, name)
		}
		return Run{}, fmt.Errorf("optimizer: read optimization %s: %w", id, err)
	}
	return d.Run, nil
}

// Put implements Store: it writes run r, retrying on conflicts with the
// stored revision (a run document has one writer; Cleanup may race it
// once).
func (s CouchStore) Put(ctx context.Context, r Run) error {
	id := RunID(r.Namespace, r.Name, r.ID)
	for attempt := 0; ; attempt++ {
		var cur runDoc
		err := s.DB.Get(ctx, id).ScanDoc(&cur)
		if err != nil && !couch.IsNotFound(err) {
			return fmt.Errorf("optimizer: read optimization %s: %w", r.ID, err)
		}
		d := runDoc{DocID: id, Rev: cur.Rev, Type: typeOptimization, Run: r}
		_, err = s.DB.Put(ctx, id, d)
		if err == nil {
			return nil
		}
		if !couch.IsConflict(err) || attempt > 10 || ctx.Err() != nil {
			return fmt.Errorf("optimizer: store optimization %s: %w", r.ID, err)
		}
	}
}

// List implements Store, reading the documents whose ids start with
// o:<ns>/<name>: (names hold no ':').
func (s CouchStore) List(ctx context.Context, ns, name string) ([]Run, error) {
	prefix := "o:"
	if ns != "" {
		prefix = "o:" + ns + "/" + name + ":"
	}
	rows := s.DB.AllDocs(ctx, kivik.Params(map[string]any{"include_docs": true, "startkey": prefix, "endkey": prefix + "\ufff0"}))
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var raw json.RawMessage
		if err := rows.ScanDoc(&raw); err != nil {
			return nil, fmt.Errorf("optimizer: scan optimizations: %w", err)
		}
		var d runDoc
		if err := json.Unmarshal(raw, &d); err != nil || d.Type != typeOptimization {
			continue
		}
		out = append(out, d.Run)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("optimizer: scan optimizations: %w", err)
	}
	return out, nil
}

// MemoryStore keeps runs in memory (tests, and an fnmgr without CouchDB
// for them). The zero value is ready.
type MemoryStore struct {
	mu   sync.Mutex
	runs map[string][]byte // by RunID, as JSON (so readers never share a run)
}

// Get implements Store.
func (s *MemoryStore) Get(_ context.Context, ns, name, id string) (Run, error) {
	s.mu.Lock()
	raw, ok := s.runs[RunID(ns, name, id)]
	s.mu.Unlock()
	if !ok {
		return Run{}, requestErr(ErrNotFound, "no optimization %s of %s/%s", id, ns, name)
	}
	var r Run
	if err := json.Unmarshal(raw, &r); err != nil {
		return Run{}, fmt.Errorf("optimizer: read optimization %s: %w", id, err)
	}
	return r, nil
}

// Put implements Store.
func (s *MemoryStore) Put(_ context.Context, r Run) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("optimizer: store optimization %s: %w", r.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runs == nil {
		s.runs = map[string][]byte{}
	}
	s.runs[RunID(r.Namespace, r.Name, r.ID)] = raw
	return nil
}

// List implements Store.
func (s *MemoryStore) List(_ context.Context, ns, name string) ([]Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Run
	for _, raw := range s.runs {
		var r Run
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("optimizer: scan optimizations: %w", err)
		}
		if ns == "" || (r.Namespace == ns && r.Name == name) {
			out = append(out, r)
		}
	}
	return out, nil
}
