package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/optimizer"
	"github.com/fnmgr/fnmgr/plugin/api"
	"github.com/fnmgr/fnmgr/plugin/httpapi"
	"github.com/fnmgr/fnmgr/plugin/lifecycle"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/versions"
)

// Functions serves the function endpoints of SPEC.md section 2.
type Functions struct {
	Registry   *registry.Store
	Versions   *versions.Controller
	Lifecycle  *lifecycle.Controller
	Deployment versions.Deployment
	// Optimizer runs the pre-optimizer; its endpoints answer 409 when nil.
	Optimizer *optimizer.Service
}

// ops returns the handlers by operationId.
func (fs *Functions) ops(a *API) map[string]http.HandlerFunc {
	h := &fnHandlers{a: a, fs: fs}
	return map[string]http.HandlerFunc{
		"listFunctions":        h.list,
		"getFunction":          h.fn(h.get),
		"listRevisions":        h.fn(h.revisions),
		"publishVersion":       h.fn(h.publish),
		"listVersions":         h.fn(h.versions),
		"getVersion":           h.fn(h.version),
		"retireVersion":        h.fn(h.retireVersion),
		"putAlias":             h.fn(h.putAlias),
		"getAlias":             h.fn(h.getAlias),
		"deleteAlias":          h.fn(h.deleteAlias),
		"rollbackFunction":     h.fn(h.rollback),
		"blockFunction":        h.fn(h.block),
		"unblockFunction":      h.fn(h.unblock),
		"updateFunction":       h.fn(h.update),
		"retireFunction":       h.fn(h.retire),
		"getHistory":           h.fn(h.history),
		"putConfig":            h.fn(h.config),
		"startOptimization":    h.fn(h.startOptimization),
		"listOptimizations":    h.fn(h.listOptimizations),
		"getOptimization":      h.fn(h.withRun(h.getOptimization)),
		"cancelOptimization":   h.fn(h.withRun(h.cancelOptimization)),
		"getOptimizationChart": h.fn(h.withRun(h.optimizationChart)),
	}
}

type fnHandlers struct {
	a  *API
	fs *Functions
}

// call is one request about function ns/name.
type call struct {
	w        http.ResponseWriter
	r        *http.Request
	ns, name string
	by       string
}

// fn resolves {ns} and {fn}, validates them, and runs h.
func (h *fnHandlers) fn(handle func(c call) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, err := pathVar(r, "fn")
		if err != nil {
			httpapi.WriteError(w, r, http.StatusBadRequest, err.Error())
			return
		}
		if !entity.ValidPath(name) {
			httpapi.WriteError(w, r, http.StatusBadRequest, fmt.Sprintf(
				"%q is not a valid function name: a name, or package/name, of letters, digits, '_', '@', '.', '-', '&' and inner spaces, at most 256 characters each.", name))
			return
		}
		by := caller(r.Context())
		r = r.WithContext(versions.WithBy(r.Context(), by)) // named in the history of what it changes
		c := call{w: w, r: r, ns: NamespaceFrom(r.Context()), name: name, by: by}
		if err := handle(c); err != nil {
			h.a.fail(w, r, err)
		}
	}
}

func caller(ctx context.Context) string {
	id, _ := IdentityFrom(ctx)
	if id.Admin {
		return "admin"
	}
	return id.Subject
}

// viewOf is function f as the admin API shows it (api.Function).
func viewOf(f registry.Function) api.Function {
	v := api.Function{Namespace: f.Namespace, Name: f.Name, State: f.State,
		Head:     api.Head{Revision: f.Head.Revision, Digest: f.Head.Digest, Updated: f.Head.Updated},
		Versions: f.Versions, Aliases: f.Aliases, Config: f.Config, Limits: f.Limits, Reason: f.Reason,
		PurgeAt: f.PurgeAt, Purged: f.Purged, Gone: f.Gone, Untracked: f.Untracked, Transition: f.Transition}
	if v.Transition != nil {
		t := *v.Transition
		t.Update = nil // the update request may carry code and parameters
		v.Transition = &t
	}
	if v.Versions == nil {
		v.Versions = []registry.VersionRef{}
	}
	if v.Aliases == nil {
		v.Aliases = map[string]registry.Alias{}
	}
	return v
}

func (h *fnHandlers) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, skip := 30, 0
	for key, dst := range map[string]*int{"limit": &limit, "skip": &skip} {
		if s := q.Get(key); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				httpapi.WriteError(w, r, http.StatusBadRequest, fmt.Sprintf("%s must be a non-negative integer.", key))
				return
			}
			*dst = n
		}
	}
	if limit == 0 || limit > 200 {
		limit = 200
	}
	state := registry.State(strings.ToUpper(q.Get("state")))
	if state != "" && !state.Valid() {
		httpapi.WriteError(w, r, http.StatusBadRequest, "state must be one of LATEST, PUBLISHED, BLOCKED, UPDATING, RETIRED.")
		return
	}
	out := []api.Function{}
	seen := 0
	errDone := errors.New("done")
	err := h.fs.Registry.Functions(r.Context(), NamespaceFrom(r.Context()), func(f registry.Function) error {
		if state != "" && f.State != state {
			return nil
		}
		seen++
		if seen <= skip {
			return nil
		}
		out = append(out, viewOf(f))
		if len(out) >= limit {
			return errDone
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDone) {
		h.a.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (h *fnHandlers) get(c call) error {
	f, err := h.fs.Registry.GetFunction(c.r.Context(), c.ns, c.name)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(c.w, http.StatusOK, viewOf(f))
	return nil
}

func (h *fnHandlers) revisions(c call) error {
	if _, err := h.fs.Registry.GetFunction(c.r.Context(), c.ns, c.name); err != nil {
		return err
	}
	rs, err := h.fs.Registry.Revisions(c.r.Context(), c.ns, c.name, 0, 0)
	if err != nil {
		return err
	}
	out := make([]api.Revision, 0, len(rs))
	for _, rv := range rs {
		out = append(out, api.Revision{Revision: rv.Revision, Digest: rv.Digest, Observed: rv.Observed, OWVersion: rv.OWVersion, Snapshot: rv.Snapshot})
	}
	httpapi.WriteJSON(c.w, http.StatusOK, out)
	return nil
}
