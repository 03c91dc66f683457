package optimizer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/go-kivik/kivik/v4"

	"github.com/fnmgr/fnmgr/optimizer/report"
	"github.com/fnmgr/fnmgr/plugin/registry"
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

// runDoc is a run as stored in the registry database.
type runDoc struct {
	DocID string `json:"_id"`
	Rev   string `json:"_rev,omitempty"`
	Type  string `json:"type"`
	Run
}

const typeOptimization = "optimization"

// RunID is the registry document id of run id of ns/name.
func RunID(ns, name, id string) string { return "o:" + ns + "/" + name + ":" + id }

// store keeps runs in the registry database.
type store struct {
	db *kivik.DB
}

func (s store) get(ctx context.Context, ns, name, id string) (runDoc, error) {
	var d runDoc
	if err := s.db.Get(ctx, RunID(ns, name, id)).ScanDoc(&d); err != nil {
		if kivik.HTTPStatus(err) == http.StatusNotFound {
			return d, fmt.Errorf("optimizer: no optimization %s of %s/%s: %w", id, ns, name, registry.ErrNotFound)
		}
		return d, fmt.Errorf("optimizer: read optimization %s: %w", id, err)
	}
	return d, nil
}

// put writes run r, retrying on conflicts with the stored revision (a
// run document has one writer; Cleanup may race it once).
func (s store) put(ctx context.Context, r Run) error {
	id := RunID(r.Namespace, r.Name, r.ID)
	for attempt := 0; ; attempt++ {
		var cur runDoc
		err := s.db.Get(ctx, id).ScanDoc(&cur)
		if err != nil && kivik.HTTPStatus(err) != http.StatusNotFound {
			return fmt.Errorf("optimizer: read optimization %s: %w", r.ID, err)
		}
		d := runDoc{DocID: id, Rev: cur.Rev, Type: typeOptimization, Run: r}
		_, err = s.db.Put(ctx, id, d)
		if err == nil {
			return nil
		}
		if kivik.HTTPStatus(err) != http.StatusConflict || attempt > 10 || ctx.Err() != nil {
			return fmt.Errorf("optimizer: store optimization %s: %w", r.ID, err)
		}
	}
}

// each calls fn with every stored run.
func (s store) each(ctx context.Context, fn func(Run) error) error {
	rows := s.db.AllDocs(ctx, kivik.Params(map[string]any{"include_docs": true, "startkey": "o:", "endkey": "o:\ufff0"}))
	defer rows.Close()
	for rows.Next() {
		var raw json.RawMessage
		if err := rows.ScanDoc(&raw); err != nil {
			return fmt.Errorf("optimizer: scan optimizations: %w", err)
		}
		var d runDoc
		if err := json.Unmarshal(raw, &d); err != nil || d.Type != typeOptimization {
			continue
		}
		if err := fn(d.Run); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("optimizer: scan optimizations: %w", err)
	}
	return nil
}
