package admin

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/fnmgr/fnmgr/optimizer"
	"github.com/fnmgr/fnmgr/plugin/httpapi"
	"github.com/fnmgr/fnmgr/plugin/registry"
)

// runIDPattern is what an optimization run id looks like.
var runIDPattern = regexp.MustCompile(`^[a-z0-9]{1,40}$`)

func (h *fnHandlers) runID(c call) (string, error) {
	id, _ := pathVar(c.r, "id")
	if !runIDPattern.MatchString(id) {
		return "", fmt.Errorf("optimization id %q is not one fnmgr gives (lowercase letters and digits): %w", id, registry.ErrInvalid)
	}
	return id, nil
}

func (h *fnHandlers) optimizer() (*optimizer.Service, error) {
	if h.fs.Optimizer == nil {
		return nil, fmt.Errorf("the pre-optimizer is not enabled in this fnmgr: %w", registry.ErrConflict)
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
	httpapi.WriteJSON(c.w, http.StatusAccepted, map[string]string{"id": id})
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

// fromOptimizer gives an optimizer error the registry's sentinel of the
// same meaning, which fail maps to a status, keeping its text (the
// optimizer is a library and has sentinels of its own).
func fromOptimizer(err error) error {
	if err == nil {
		return nil
	}
	for _, m := range []struct{ opt, reg error }{
		{optimizer.ErrInvalid, registry.ErrInvalid}, {optimizer.ErrNotFound, registry.ErrNotFound},
		{optimizer.ErrConflict, registry.ErrConflict}, {optimizer.ErrLocked, registry.ErrLocked},
		{optimizer.ErrGone, registry.ErrGone},
	} {
		if errors.Is(err, m.opt) && !errors.Is(err, m.reg) {
			return fmt.Errorf("%s: %w", strings.TrimSuffix(err.Error(), ": "+m.opt.Error()), m.reg)
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
