package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/fnmgr/fnmgr/couch"
)

// MemoryDocs is Docs in memory, with CouchDB's rules for revisions: a
// write must name the stored revision (none for a new or deleted
// document), else it conflicts; every write makes the next revision
// ("N-<hash>"). Errors are the ones CouchDB's give (couch.ErrNotFound,
// couch.ErrConflict). For unit tests of the registry and the packages that
// use it; safe for concurrent use.
type MemoryDocs struct {
	mu   sync.Mutex
	docs map[string]json.RawMessage
	gen  map[string]int // last generation of each id, deleted ones included
}

// NewMemoryDocs returns an empty MemoryDocs.
func NewMemoryDocs() *MemoryDocs {
	return &MemoryDocs{docs: map[string]json.RawMessage{}, gen: map[string]int{}}
}

// NewMemory returns a Store over an empty MemoryDocs.
func NewMemory() *Store { return NewStore(NewMemoryDocs()) }

func statusErr(status int, id, reason string) error {
	return couch.Classify(&couch.StatusError{Status: status, ID: id, Reason: reason})
}

// Get implements Docs.
func (m *MemoryDocs) Get(_ context.Context, id string, v any) error {
	m.mu.Lock()
	raw, ok := m.docs[id]
	m.mu.Unlock()
	if !ok {
		return statusErr(http.StatusNotFound, id, "missing")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("registry: decode %s: %w", id, err)
	}
	return nil
}

// Put implements Docs.
func (m *MemoryDocs) Put(_ context.Context, id string, doc any) (string, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("registry: encode %s: %w", id, err)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		return "", fmt.Errorf("registry: %s is not a JSON object: %w", id, err)
	}
	if got, _ := fields["_id"].(string); got != id {
		return "", fmt.Errorf("registry: put %s: the document's _id is %q", id, got)
	}
	rev, _ := fields["_rev"].(string)
	m.mu.Lock()
	defer m.mu.Unlock()
	if rev != m.current(id) {
		return "", statusErr(http.StatusConflict, id, "conflict")
	}
	m.gen[id]++
	sum := sha256.Sum256(raw)
	next := strconv.Itoa(m.gen[id]) + "-" + hex.EncodeToString(sum[:16])
	fields["_rev"] = next
	if raw, err = json.Marshal(fields); err != nil {
		return "", fmt.Errorf("registry: encode %s: %w", id, err)
	}
	m.docs[id] = raw
	return next, nil
}

// current is the stored revision of id ("" when none); m.mu is held.
func (m *MemoryDocs) current(id string) string {
	raw, ok := m.docs[id]
	if !ok {
		return ""
	}
	var head struct {
		Rev string `json:"_rev"`
	}
	_ = json.Unmarshal(raw, &head)
	return head.Rev
}

// Delete implements Docs.
func (m *MemoryDocs) Delete(_ context.Context, id, rev string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.current(id)
	switch {
	case cur == "":
		return statusErr(http.StatusNotFound, id, "deleted")
	case cur != rev:
		return statusErr(http.StatusConflict, id, "conflict")
	}
	m.gen[id]++
	delete(m.docs, id)
	return nil
}

// Page implements Docs.
func (m *MemoryDocs) Page(_ context.Context, start, end string, desc bool, limit int) ([]Row, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	lo, hi := start, end
	if desc {
		lo, hi = end, start
	}
	var ids []string
	for id := range m.docs {
		if strings.Compare(id, lo) >= 0 && strings.Compare(id, hi) <= 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if desc {
		slices.Reverse(ids)
	}
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]Row, len(ids))
	for i, id := range ids {
		out[i] = Row{ID: id, Doc: slices.Clone(m.docs[id])}
	}
	return out, nil
}
