package admin

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/fnmgr/fnmgr/optimizer"
	"github.com/fnmgr/fnmgr/plugin/api"
	"github.com/fnmgr/fnmgr/plugin/httpapi"
	"github.com/fnmgr/fnmgr/plugin/reqerr"
)

// runIDPattern is what an optimization run id looks like.
var runIDPattern = regexp.MustCompile(`^[a-z0-9]{1,40}$`)

func (h *fnHandlers) runID(c call) (string, error) {
	id, _ := pathVar(c.r, "id")
	if !runIDPattern.MatchString(id) {
		return "", reqerr.New(reqerr.Invalid, "optimization id %q is not one fnmgr gives (lowercase letters and digits)", id)
	}
	return id, nil
}

func (h *fnHandlers) optimizer() (*optimizer.Service, error) {
	if h.fs.Optimizer == nil {
		return nil, reqerr.New(reqerr.Conflict, "the pre-optimizer is not enabled in this fnmgr")
	}
	return h.fs.Optimizer, nil
}

func (h *fnHandlers) startOptimization(c call) error {
	opt, err := h.optimizer()
	if err != nil {
		return err
	}
	var req optimizer.Request
	if err := h.body(c, &req); err != nil {
		return ignoreAnswered(err)
	}
	id, err := opt.Start(c.r.Context(), c.ns, c.name, req, c.by)
	if err != nil {
		return fromOptimizer(err)
	}
	c.w.Header().Set("Location", fmt.Sprintf("/v1/namespaces/%s/functions/%s/optimizations/%s", c.ns, c.name, id))
	httpapi.WriteJSON(c.w, http.StatusAccepted, api.OptimizationStarted{ID: id})
	return nil
}

// withRun resolves the optimizer and the {id} of a run, then calls f.
func (h *fnHandlers) withRun(f func(c call, opt *optimizer.Service, id string) error) func(c call) error {
	return func(c call) error {
		opt, err := h.optimizer()
		if err != nil {
			return err
		}
		id, err := h.runID(c)
		if err != nil {
			return err
		}
		return fromOptimizer(f(c, opt, id))
	}
}

// listOptimizations answers a function's runs, newest first, as
// summaries (status, recommendation, saving); GET …/{id} has the rest.
func (h *fnHandlers) listOptimizations(c call) error {
	opt, err := h.optimizer()
	if err != nil {
		return err
	}
	runs, err := opt.List(c.r.Context(), c.ns, c.name)
	if err != nil {
		return fromOptimizer(err)
	}
	out := make([]optimizer.Summary, 0, len(runs))
	for _, r := range runs {
		out = append(out, r.Summary())
	}
	httpapi.WriteJSON(c.w, http.StatusOK, out)
	return nil
}

// fromOptimizer gives an optimizer error the request error kind of the
// same meaning (the optimizer is a library and has sentinels of its own);
// its text and the sentence it carries stay as they are.
func fromOptimizer(err error) error {
	if err == nil {
		return nil
	}
	for _, m := range []struct {
		opt  error
		kind reqerr.Kind
	}{
		{optimizer.ErrInvalid, reqerr.Invalid}, {optimizer.ErrNotFound, reqerr.NotFound},
		{optimizer.ErrConflict, reqerr.Conflict}, {optimizer.ErrLocked, reqerr.Locked},
		{optimizer.ErrGone, reqerr.Gone},
	} {
		if errors.Is(err, m.opt) {
			return reqerr.WithKind(m.kind, err)
		}
	}
	return err
}

func (h *fnHandlers) getOptimization(c call, opt *optimizer.Service, id string) error {
	run, err := opt.Get(c.r.Context(), c.ns, c.name, id)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(c.w, http.StatusOK, run)
	return nil
}

func (h *fnHandlers) cancelOptimization(c call, opt *optimizer.Service, id string) error {
	if err := opt.Cancel(c.r.Context(), c.ns, c.name, id); err != nil {
		return err
	}
	return h.getOptimization(c, opt, id)
}

func (h *fnHandlers) optimizationChart(c call, opt *optimizer.Service, id string) error {
	svg, err := opt.Chart(c.r.Context(), c.ns, c.name, id)
	if err != nil {
		return err
	}
	c.w.Header().Set("Content-Type", "image/svg+xml")
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(svg)
	return nil
}
