package admin

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/api"
	"github.com/fnmgr/fnmgr/plugin/httpapi"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/reqerr"
)

// errAnswered means the body decoder already answered the request.
var errAnswered = errors.New("answered")

// body decodes an optional JSON body into v (an empty body leaves v as is).
func (h *fnHandlers) body(c call, v any) error {
	if c.r.ContentLength == 0 {
		if b, _ := io.ReadAll(io.LimitReader(c.r.Body, 1)); len(b) == 0 {
			return nil
		}
		return reqerr.New(reqerr.Invalid, "send the body with a Content-Length")
	}
	if !h.a.decodeBody(c.w, c.r, v) {
		return errAnswered
	}
	return nil
}

func (h *fnHandlers) publish(c call) error {
	var req api.PublishRequest
	if err := h.body(c, &req); err != nil {
		return ignoreAnswered(err)
	}
	if len(req.Description) > 1024 {
		return reqerr.Field("description", "is longer than 1024 characters")
	}
	p, err := h.fs.Versions.Publish(c.r.Context(), c.ns, c.name, req.Description, c.by)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if p.Created {
		status = http.StatusCreated
	}
	httpapi.WriteJSON(c.w, status, api.PublishedVersion{Version: p.Version.Version, Digest: p.Version.Digest})
	return nil
}

func ignoreAnswered(err error) error {
	if errors.Is(err, errAnswered) {
		return nil
	}
	return err
}

func (h *fnHandlers) versionView(c call, v registry.Version, withCode bool) (api.Version, error) {
	out := api.Version{Version: v.Version, Digest: v.Digest, Revision: v.Revision, Description: v.Description,
		Created: v.Created, CreatedBy: v.CreatedBy, Snapshot: v.Snapshot}
	if withCode && v.Snapshot.Exec.CodeDigest != "" {
		b, err := h.fs.Versions.Code(c.r.Context(), v.Snapshot)
		if err != nil {
			return out, err
		}
		s := entity.RESTCode(b, v.Snapshot.Exec.Binary)
		out.Code = &s
	}
	return out, nil
}

func withCode(r *http.Request) (bool, error) {
	switch r.URL.Query().Get("code") {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, reqerr.Field("code", "must be true or false")
}

func (h *fnHandlers) versions(c call) error {
	code, err := withCode(c.r)
	if err != nil {
		return err
	}
	f, err := h.fs.Registry.GetFunction(c.r.Context(), c.ns, c.name)
	if err != nil {
		return err
	}
	vs, err := h.fs.Registry.Versions(c.r.Context(), c.ns, c.name)
	if err != nil {
		return err
	}
	out := []api.Version{}
	for _, v := range vs {
		if _, live := f.Version(v.Version); !live {
			continue
		}
		vv, err := h.versionView(c, v, code)
		if err != nil {
			return err
		}
		out = append(out, vv)
	}
	httpapi.WriteJSON(c.w, http.StatusOK, out)
	return nil
}

func versionNumber(c call) (int, error) {
	s, _ := pathVar(c.r, "n")
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, reqerr.Field("version", "%q must be a positive integer", s)
	}
	return n, nil
}

func (h *fnHandlers) version(c call) error {
	code, err := withCode(c.r)
	if err != nil {
		return err
	}
	n, err := versionNumber(c)
	if err != nil {
		return err
	}
	f, err := h.fs.Registry.GetFunction(c.r.Context(), c.ns, c.name)
	if err != nil {
		return err
	}
	if _, ok := f.Version(n); !ok {
		return reqerr.New(reqerr.NotFound, "version %d of %s does not exist", n, f.FQN())
	}
	v, err := h.fs.Registry.GetVersion(c.r.Context(), c.ns, c.name, n)
	if err != nil {
		return err
	}
	vv, err := h.versionView(c, v, code)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(c.w, http.StatusOK, vv)
	return nil
}

func (h *fnHandlers) retireVersion(c call) error {
	n, err := versionNumber(c)
	if err != nil {
		return err
	}
	if err := h.fs.Versions.RetireVersion(c.r.Context(), c.ns, c.name, n); err != nil {
		return err
	}
	httpapi.WriteJSON(c.w, http.StatusOK, api.RetiredVersion{Version: n, Retired: true})
	return nil
}

func (h *fnHandlers) putAlias(c call) error {
	alias, _ := pathVar(c.r, "alias")
	var req api.AliasRequest
	if err := h.body(c, &req); err != nil {
		return ignoreAnswered(err)
	}
	routing := req.Routing
	switch {
	case req.Version != nil && len(routing) > 0:
		return reqerr.New(reqerr.Invalid, "send either version or routing, not both")
	case req.Version != nil:
		routing = []api.Route{{Version: *req.Version, Weight: 100}}
	case len(routing) == 0:
		return reqerr.New(reqerr.Invalid, "send {\"version\": N} or {\"routing\": [{\"version\": N, \"weight\": W}, …]}")
	}
	al, err := h.fs.Versions.SetAlias(c.r.Context(), c.ns, c.name, alias, routing)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(c.w, http.StatusOK, api.NamedAlias{Alias: alias, Routing: al.Routing, Updated: al.Updated})
	return nil
}

func (h *fnHandlers) getAlias(c call) error {
	alias, _ := pathVar(c.r, "alias")
	f, err := h.fs.Registry.GetFunction(c.r.Context(), c.ns, c.name)
	if err != nil {
		return err
	}
	al, ok := f.Aliases[alias]
	if !ok {
		return reqerr.New(reqerr.NotFound, "alias %q of %s does not exist", alias, f.FQN())
	}
	httpapi.WriteJSON(c.w, http.StatusOK, api.NamedAlias{Alias: alias, Routing: al.Routing, Updated: al.Updated})
	return nil
}

func (h *fnHandlers) deleteAlias(c call) error {
	alias, _ := pathVar(c.r, "alias")
	if err := h.fs.Versions.DeleteAlias(c.r.Context(), c.ns, c.name, alias); err != nil {
		return err
	}
	httpapi.WriteJSON(c.w, http.StatusOK, api.DeletedAlias{Alias: alias, Deleted: true})
	return nil
}

func (h *fnHandlers) rollback(c call) error {
	var req api.RollbackRequest
	if err := h.body(c, &req); err != nil {
		return ignoreAnswered(err)
	}
	if req.Version <= 0 {
		return reqerr.New(reqerr.Invalid, "send {\"version\": N} with the version to roll back to")
	}
	v, err := h.fs.Versions.Rollback(c.r.Context(), c.ns, c.name, req.Version)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(c.w, http.StatusOK, api.PublishedVersion{Version: v.Version, Digest: v.Digest})
	return nil
}

func checkReason(reason string) error {
	if len(reason) > 1024 {
		return reqerr.Field("reason", "is longer than 1024 characters")
	}
	return nil
}

func (h *fnHandlers) block(c call) error {
	// api.BlockRequest plus graceSeconds, read to say where it belongs.
	var req api.RetireRequest
	if err := h.body(c, &req); err != nil {
		return ignoreAnswered(err)
	}
	if req.GraceSeconds != nil {
		return reqerr.Field("graceSeconds", "belongs to retire, not block")
	}
	if err := checkReason(req.Reason); err != nil {
		return err
	}
	f, err := h.fs.Lifecycle.Block(c.r.Context(), c.ns, c.name, req.Reason, c.by)
	return h.answer(c, f, err)
}

func (h *fnHandlers) unblock(c call) error {
	var req struct{}
	if err := h.body(c, &req); err != nil {
		return ignoreAnswered(err)
	}
	f, err := h.fs.Lifecycle.Unblock(c.r.Context(), c.ns, c.name, c.by)
	return h.answer(c, f, err)
}

func (h *fnHandlers) update(c call) error {
	var req api.UpdateRequest
	if err := h.body(c, &req); err != nil {
		return ignoreAnswered(err)
	}
	f, err := h.fs.Lifecycle.Update(c.r.Context(), c.ns, c.name, req, c.by)
	return h.answer(c, f, err)
}

func (h *fnHandlers) retire(c call) error {
	var req api.RetireRequest
	if err := h.body(c, &req); err != nil {
		return ignoreAnswered(err)
	}
	if err := checkReason(req.Reason); err != nil {
		return err
	}
	var grace time.Duration
	if g := req.GraceSeconds; g != nil {
		if *g < 0 || *g > 365*24*3600 {
			return reqerr.Field("graceSeconds", "must be between 0 and one year")
		}
		grace = time.Duration(*g) * time.Second
		if grace == 0 {
			grace = time.Nanosecond // purge at the next check
		}
	}
	f, err := h.fs.Lifecycle.Retire(c.r.Context(), c.ns, c.name, req.Reason, c.by, grace)
	return h.answer(c, f, err)
}

func (h *fnHandlers) answer(c call, f registry.Function, err error) error {
	if err != nil {
		return err
	}
	httpapi.WriteJSON(c.w, http.StatusOK, viewOf(f))
	return nil
}

func (h *fnHandlers) history(c call) error {
	hs, err := h.fs.Lifecycle.History(c.r.Context(), c.ns, c.name)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(c.w, http.StatusOK, hs)
	return nil
}

func (h *fnHandlers) config(c call) error {
	var req api.ConfigRequest
	if err := h.body(c, &req); err != nil {
		return ignoreAnswered(err)
	}
	cfg, err := h.fs.Versions.SetConfig(c.r.Context(), c.ns, c.name, req, h.fs.Deployment)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(c.w, http.StatusOK, cfg)
	return nil
}
