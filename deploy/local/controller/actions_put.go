package controller

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// putAction creates or updates an action (WhiskActionsApi.create).
func (c *Controller) putAction(w http.ResponseWriter, r *http.Request, id *identity, f fqn) error {
	ctx := r.Context()
	overwrite, err := queryBool(r, "overwrite", false)
	if err != nil {
		return err
	}
	var put entity.ActionPut
	if err := decodeBody(r, &put); err != nil {
		return err
	}
	if put.Version != "" && !validSemVer(put.Version) {
		return badRequest(msgMalformedBody(fmt.Sprintf("requirement failed: bad semantic version %s", put.Version)))
	}
	exec, code, contentType, err := c.buildExec(put.Exec, id.Namespace)
	if err != nil {
		return err
	}
	var old entity.Action
	found, err := c.existing(ctx, f.DocID(), entity.TypeAction, &old)
	if err != nil {
		return err
	}
	if found && !overwrite {
		return errStatus(http.StatusConflict, msgExists)
	}
	if found {
		if err := c.checkReadable(old); err != nil {
			return err
		}
	}
	// The namespace's ranges, as Actions.scala's checkActionLimits.
	if err := c.opts.Limits.For(id.Limits).CheckPut(put.Limits); err != nil {
		return badRequest(err.Error())
	}
	if exec != nil && exec.Kind == entity.KindSequence {
		for _, comp := range exec.Components {
			cf, _ := parseFQN(comp, id.Namespace)
			if err := c.entitled(ctx, id, cf); err != nil {
				return err
			}
		}
		if err := c.checkSequence(ctx, f, exec.Components); err != nil {
			return err
		}
	}

	var a entity.Action
	if !found {
		if exec == nil {
			return badRequest(msgExecUndefined)
		}
		a = entity.Action{Namespace: f.Path, Name: f.Name, Exec: *exec, Parameters: put.Parameters,
			Limits: mergeLimits(c.opts.Limits.std(), put.Limits), Version: put.Version, Publish: put.Publish != nil && *put.Publish,
			Annotations: amendAnnotations(put.Annotations, exec.Kind, true)}
		if a.Version == "" {
			a.Version = "0.0.1"
		}
		if exec.Kind == entity.KindSequence {
			a.Parameters = sequenceParameters(exec.Components)
		}
	} else {
		a, code, contentType, err = c.updatedAction(ctx, old, put, exec, code, contentType)
		if err != nil {
			return err
		}
	}
	a.ID = f.DocID()
	a.Updated = time.Now().UnixMilli()
	if a.Parameters == nil {
		a.Parameters = entity.KeyValues{}
	}
	stored, err := c.writeAction(ctx, a, code, contentType)
	if err != nil {
		return err
	}
	e := stored.Exec
	if code != nil {
		e.Code = entity.InlineCode(entity.RESTCode(code, e.Binary))
	}
	writeJSON(w, http.StatusOK, stored.View(e))
	return nil
}

// updatedAction merges a PUT into the existing action (updateWhiskAction):
// fields not sent keep their values, limits merge field by field, the patch
// version goes up, and the code is written again.
func (c *Controller) updatedAction(ctx context.Context, old entity.Action, put entity.ActionPut, exec *entity.Exec,
	code []byte, contentType string) (entity.Action, []byte, string, error) {
	a := old
	a.Limits = mergeLimits(old.Limits, put.Limits)
	oldIsSeq := old.Exec.Kind == entity.KindSequence
	switch {
	case exec != nil && exec.Kind == entity.KindSequence:
		a.Parameters = sequenceParameters(exec.Components)
	case exec != nil:
		if put.Parameters != nil {
			a.Parameters = put.Parameters
		} else if oldIsSeq {
			a.Parameters = entity.KeyValues{}
		}
	case !oldIsSeq && put.Parameters != nil:
		a.Parameters = put.Parameters
	}
	if exec != nil {
		a.Exec = *exec
	} else if old.Exec.Code != nil {
		// OpenWhisk reads the code back and stores it again.
		b, err := c.store.whisks.ActionCode(ctx, old)
		if err != nil {
			return a, nil, "", classify("read code of "+old.ID, err)
		}
		code, contentType = b, entity.TextContentType
		if old.Exec.Binary {
			contentType = entity.BinaryContentType
		}
	}
	a.Version = put.Version
	if a.Version == "" {
		a.Version = upPatch(old.Version)
	}
	if put.Publish != nil {
		a.Publish = *put.Publish
	}
	ann := old.Annotations
	if put.Annotations != nil {
		ann = put.Annotations
	}
	a.Annotations = amendAnnotations(ann.Without(put.DelAnnotations...), a.Exec.Kind, false)
	return a, code, contentType, nil
}

// buildExec validates a PUT's exec and returns it as stored (without code),
// the code bytes to attach and their content type.
func (c *Controller) buildExec(p *entity.ExecPut, userNS string) (*entity.Exec, []byte, string, error) {
	if p == nil {
		return nil, nil, "", nil
	}
	kind, err := c.runtimes.resolve(p.Kind)
	if err != nil {
		return nil, nil, "", err
	}
	e := &entity.Exec{Kind: kind, Main: p.Main}
	switch kind {
	case entity.KindSequence:
		if len(p.Components) == 0 {
			return nil, nil, "", badRequest(msgSequenceNoComponent)
		}
		for _, s := range p.Components {
			f, ok := parseFQN(s, userNS)
			if !ok || !strings.HasPrefix(s, "/") {
				return nil, nil, "", badRequest(msgMalformedBody(fmt.Sprintf("'%s' is not a fully qualified entity name", s)))
			}
			e.Components = append(e.Components, f.resolveNS(userNS).Slash())
		}
		e.Main = ""
		return e, nil, "", nil
	case entity.KindBlackbox:
		if p.Image == "" {
			return nil, nil, "", badRequest(msgMalformedBody("'image' must be a string defined in 'exec' for 'blackbox' actions"))
		}
		e.Image = p.Image
		if p.Code == nil {
			return e, nil, "", nil
		}
	default:
		if p.Code == nil {
			return nil, nil, "", badRequest(msgMalformedBody(fmt.Sprintf("'code' must be a string or attachment object defined in 'exec' for '%s' actions", kind)))
		}
	}
	e.Binary = entity.IsBinaryCode(*p.Code)
	b, ct, err := entity.StoredCode(*p.Code, e.Binary)
	if err != nil {
		return nil, nil, "", badRequest(msgMalformedBody(err.Error()))
	}
	return e, b, ct, nil
}

// amendAnnotations sets the exec annotation (always) and, on create,
// provide-api-key=false when absent (WhiskActionsApi.amendAnnotations).
func amendAnnotations(ann entity.KeyValues, kind string, create bool) entity.KeyValues {
	out := append(entity.KeyValues{}, ann...)
	if create {
		if _, ok := out.Get("provide-api-key"); !ok {
			out = out.With("provide-api-key", false)
		}
	}
	return out.With("exec", kind)
}

// sequenceParameters is the _actions parameter a sequence carries.
func sequenceParameters(components []string) entity.KeyValues {
	return entity.KeyValues{}.With("_actions", components)
}

var semVerRegexp = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)$`)

func validSemVer(v string) bool { return semVerRegexp.MatchString(v) && v != "0.0.0" }

// upPatch bumps the patch number of a semantic version.
func upPatch(v string) string {
	m := semVerRegexp.FindStringSubmatch(v)
	if m == nil {
		return "0.0.1"
	}
	patch, _ := strconv.Atoi(m[3])
	return m[1] + "." + m[2] + "." + strconv.Itoa(patch+1)
}
