package optimizer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/fnmgr/fnmgr/optimizer/probe"
	"github.com/fnmgr/fnmgr/optimizer/report"
	"github.com/fnmgr/fnmgr/optimizer/search"
)

// Cleanup deletes the probe copies no run of this process owns (left by a
// crash) and marks runs stored as queued or running, that this process is
// not running, as failed. Call it once at start.
func (s *Service) Cleanup(ctx context.Context) error {
	var errs []error
	if s.o.Whisks != nil {
		deleted, err := probe.Sweep(ctx, s.o.Whisks, s.o.Actions, s.ownsRun)
		if len(deleted) > 0 {
			s.log.Info("deleted probe copies left by an interrupted optimization", "count", len(deleted))
		}
		errs = append(errs, err)
	}
	var stale []Run
	all, err := s.st.List(ctx, "", "")
	for _, r := range all {
		if !r.Status.Done() && !s.ownsRun(r.ID) {
			stale = append(stale, r)
		}
	}
	errs = append(errs, err)
	for _, r := range stale {
		now := s.o.Now().UTC()
		r.Updated, r.Finished = now, &now
		if rep := r.Report; rep != nil && rep.Applied != nil && rep.Applied.Error == "" && rep.Recommendation != nil {
			// Stopped while applying its setting: finish applying it.
			if err := s.apply(ctx, r.Namespace, r.Name, r, rep); err != nil {
				r.Status, r.Error = Failed, "interrupted while applying its setting, which could not be applied at restart: "+err.Error()
			} else {
				r.Status = Succeeded
				rep.Warnings = append(rep.Warnings, "fnmgr stopped while applying this setting; it finished applying it when it started again")
				s.log.Warn("optimization interrupted while applying its setting: applied at restart", "function", r.Namespace+"/"+r.Name, "run", r.ID)
			}
			errs = append(errs, s.st.Put(ctx, r))
			continue
		}
		r.Status = Failed
		r.Error = "interrupted: fnmgr stopped before the optimization finished; its probe copies were deleted"
		errs = append(errs, s.st.Put(ctx, r))
		s.log.Warn("optimization interrupted by a restart marked failed", "function", r.Namespace+"/"+r.Name, "run", r.ID)
	}
	return errors.Join(errs...)
}

// ownsRun reports whether run id is live in this process.
func (s *Service) ownsRun(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, lr := range s.live {
		if lr.snapshot().ID == id {
			return true
		}
	}
	return false
}

// liveRun is a run of this process.
type liveRun struct {
	cancel context.CancelFunc

	mu        sync.Mutex
	run       Run
	obs       []search.Observation
	tolerance float64
	cancelled bool
	saved     time.Time
}

func (lr *liveRun) snapshot() Run {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	r := lr.run
	if r.Report == nil && len(lr.obs) > 0 {
		// In progress: show what was measured so far.
		rep := report.Report{Function: r.Namespace + "/" + r.Name, RunID: r.ID, Mode: r.Request.Mode,
			Objective: search.Objective(r.Request.Objective), Tolerance: r.Request.Tolerance,
			Active: &search.Result{Points: search.Points(lr.obs, lr.tolerance)}, Invocations: len(lr.obs)}
		for _, o := range lr.obs {
			rep.GBSeconds += o.GBSeconds()
		}
		r.Report = &rep
	}
	return r
}

func (lr *liveRun) markCancel() {
	lr.mu.Lock()
	lr.cancelled = true
	lr.mu.Unlock()
	lr.cancel()
}

func (lr *liveRun) wasCancelled() bool {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return lr.cancelled
}

// Summary is a run in a list: what it is, how it went, what it
// recommends.
type Summary struct {
	ID             string                 `json:"id"`
	Status         Status                 `json:"status"`
	Progress       Progress               `json:"progress"`
	Objective      string                 `json:"objective"`
	Mode           string                 `json:"mode"`
	By             string                 `json:"by,omitempty"`
	Error          string                 `json:"error,omitempty"`
	Created        time.Time              `json:"created"`
	Finished       *time.Time             `json:"finished,omitempty"`
	Current        *report.Setting        `json:"current,omitempty"`
	Recommendation *report.Recommendation `json:"recommendation,omitempty"`
	Saving         *report.Saving         `json:"saving,omitempty"`
	Applied        bool                   `json:"applied,omitempty"`
}

// Summary returns r as a list shows it.
func (r Run) Summary() Summary {
	s := Summary{ID: r.ID, Status: r.Status, Progress: r.Progress, Objective: r.Request.Objective, Mode: r.Request.Mode,
		By: r.By, Error: r.Error, Created: r.Created, Finished: r.Finished}
	if rep := r.Report; rep != nil {
		cur := rep.Current
		if cur.MemoryMB > 0 {
			s.Current = &cur
		}
		if rep.Recommendation != nil {
			rec := *rep.Recommendation
			rec.Why = "" // in the run itself
			s.Recommendation = &rec
		}
		s.Saving = rep.Saving
		s.Applied = rep.Applied != nil && rep.Applied.Error == "" && r.Status == Succeeded
	}
	return s
}
