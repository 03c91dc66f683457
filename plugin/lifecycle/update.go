package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/api"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/reqerr"
	"github.com/fnmgr/fnmgr/plugin/versions"
)

// ErrUpdateFailed is returned when an update's test invocation failed; the
// function is left as it was.
var ErrUpdateFailed = errors.New("update failed")

// probeSuffix names the temporary copy an update is tested on.
const probeSuffix = "fnmgr-update"

// Update applies req under UPDATING (every invocation refused meanwhile),
// tests it on a temporary copy when asked, and returns the function to
// LATEST with the update in place; a failed update puts back what was
// there and is recorded in the history.
func (c *Controller) Update(ctx context.Context, ns, name string, req api.UpdateRequest, by string) (_ registry.Function, err error) {
	if req.Exec == nil && req.Limits == nil && req.Parameters == nil && req.Annotations == nil {
		return registry.Function{}, reqerr.New(reqerr.Invalid, "an update needs at least one of exec, limits, parameters, annotations")
	}
	if len(req.Test) > 0 && req.Test[0] != '{' {
		return registry.Function{}, reqerr.Field("test", "must be a JSON object (the test invocation's parameters)")
	}
	f, unlock, err := c.lockFunction(ctx, ns, name)
	defer func() { unlock() }()
	if err != nil {
		return f, err
	}
	if err := refuse(f, "update"); err != nil {
		return f, err
	}
	if f.State == registry.Blocked {
		return f, reqerr.New(reqerr.Conflict, "update: function %s is BLOCKED; unblock it first", f.FQN())
	}
	if f, err = c.syncAndReload(ctx, ns, name, f); err != nil {
		return f, err
	}
	head, err := c.reg.GetRevision(ctx, ns, name, f.Head.Revision)
	if err != nil {
		return f, err
	}
	next, code, err := apply(head.Snapshot, req)
	if err != nil {
		return f, err
	}
	if err := c.checkRules(ctx, ns, next); err != nil {
		return f, err
	}
	if err := c.resolveDefaultKind(ctx, &next); err != nil {
		return f, err
	}
	raw, _ := json.Marshal(req)
	f, err = c.begin(ctx, f, registry.Transition{Op: "update", From: f.State, To: registry.Updating, By: by, Update: raw},
		func(f *registry.Function) { f.PrevState, f.State = f.State, registry.Updating })
	if err != nil {
		return f, err
	}
	ctx = detached(ctx)
	defer c.carry(f, &err)()
	// Stubs first: nothing runs while the update is applied.
	if err := c.ver.Materialize(ctx, f); err != nil {
		return c.abort(ctx, f, err)
	}
	if code != nil {
		d, err := c.ver.StoreCode(ctx, f, next, code)
		if err != nil {
			return c.abort(ctx, f, err)
		}
		next.Exec.CodeDigest, next.Exec.CodeSize = d, int64(len(code))
	}
	if len(req.Test) > 0 {
		// The function's lock is let go while the test runs (up to the
		// action's time limit): the change feed then records a write made
		// meanwhile on the controller and puts the stub back at once. The
		// intent recorded by begin keeps every other operation out.
		unlock()
		err := c.test(ctx, f, next, req.Test)
		unlock = versions.Lock(ns, name)
		if err != nil {
			return c.abort(ctx, f, &reqerr.Error{Kind: reqerr.Conflict,
				Msg: "update failed: the test invocation failed: " + err.Error(),
				Err: fmt.Errorf("%w: %w", ErrUpdateFailed, err)})
		}
		if f, err = c.reg.GetFunction(ctx, ns, name); err != nil {
			return c.abort(ctx, f, err)
		}
	}
	if err := c.ver.WriteSnapshot(ctx, f, next); err != nil {
		return c.abort(ctx, f, err)
	}
	if err := c.ver.SyncApplied(ctx, ns, name); err != nil {
		return c.abort(ctx, f, err)
	}
	f, err = c.reg.Update(ctx, ns, name, func(f *registry.Function) error {
		f.State = runnableState(*f)
		f.Transition.To = f.State
		return nil
	})
	if err != nil {
		return f, err
	}
	return c.finish(ctx, f, f.State, "", nil)
}

// test writes the candidate to a probe action, invokes it and removes it.
func (c *Controller) test(ctx context.Context, f registry.Function, s registry.Snapshot, payload json.RawMessage) error {
	if c.inv == nil {
		return errors.New("no invoker is configured for test invocations")
	}
	docid, err := c.ver.WriteProbe(ctx, f, probeSuffix, s)
	if err != nil {
		return err
	}
	defer func() { _ = c.ver.DeleteAction(context.WithoutCancel(ctx), docid) }()
	_, name := registry.ActionPath(f.Namespace, f.Name)
	action := name + "@" + probeSuffix
	if pkg, _, ok := cutPackage(f.Name); ok {
		action = pkg + "/" + action
	}
	_, err = c.inv.Invoke(ctx, f.Namespace, action, payload)
	return err
}

// abort undoes an update: the function returns to its state before, its
// actions written back from the unchanged head, and the failure audited.
func (c *Controller) abort(ctx context.Context, f registry.Function, cause error) (registry.Function, error) {
	ctx = context.WithoutCancel(ctx)
	f, err := c.reg.Update(ctx, f.Namespace, f.Name, func(f *registry.Function) error {
		f.State = f.PrevState
		if !f.State.Runnable() {
			f.State = registry.Latest
		}
		if f.Transition != nil {
			f.Transition.To = f.State
		}
		return nil
	})
	if err != nil {
		return f, errors.Join(cause, err)
	}
	if f.Transition == nil {
		return f, cause
	}
	if _, err := c.finish(ctx, f, f.State, "update failed: "+cause.Error(), cause); err != nil {
		return f, errors.Join(cause, err)
	}
	c.log.WarnContext(ctx, "update failed; the function is as it was", "function", f.FQN(), "err", cause)
	return f, cause
}

// apply merges an update into a snapshot the way OpenWhisk merges a PUT
// with overwrite: exec replaced when given, limits merged field by field,
// parameters and annotations replaced when given. It returns the new code
// bytes when exec carries code.
func apply(s registry.Snapshot, req api.UpdateRequest) (registry.Snapshot, []byte, error) {
	var code []byte
	if e := req.Exec; e != nil {
		if e.Kind == "" {
			return s, nil, reqerr.Field("exec.kind", "is required")
		}
		binary := false
		switch {
		case e.Kind == entity.KindSequence:
			if len(e.Components) == 0 {
				return s, nil, reqerr.New(reqerr.Invalid, "a sequence needs components")
			}
		case e.Code != nil:
			binary = entity.IsBinaryCode(*e.Code)
			if e.Binary != nil {
				binary = *e.Binary
			}
			b, _, err := entity.StoredCode(*e.Code, binary)
			if err != nil {
				return s, nil, &reqerr.Error{Kind: reqerr.Invalid, Field: "exec.code", Msg: "exec.code: " + err.Error(), Err: err}
			}
			code = b
		case e.Kind != entity.KindBlackbox:
			return s, nil, reqerr.Field("exec.code", "is required for kind %s", e.Kind)
		}
		s.Exec = registry.ExecSnapshot{Kind: e.Kind, Main: e.Main, Image: e.Image, Binary: binary, Components: e.Components}
		if code != nil {
			s.Exec.ContentType = entity.TextContentType
			if binary {
				s.Exec.ContentType = entity.BinaryContentType
			}
			s.Exec.CodeDigest = entity.Digest(code)
		}
		s.Annotations = s.Annotations.With("exec", e.Kind)
	}
	if l := req.Limits; l != nil {
		set := func(dst *int, v *int) {
			if v != nil {
				*dst = *v
			}
		}
		set(&s.Limits.Timeout, l.Timeout)
		set(&s.Limits.Memory, l.Memory)
		set(&s.Limits.Logs, l.Logs)
		set(&s.Limits.Concurrency, l.Concurrency)
		if l.Instances != nil {
			s.Limits.Instances = l.Instances
		}
	}
	if req.Parameters != nil {
		s.Parameters = req.Parameters
	}
	if req.Annotations != nil {
		kind, _ := s.Annotations.Get("exec")
		s.Annotations = registry.UserAnnotations(req.Annotations)
		if kind != nil {
			s.Annotations = s.Annotations.With("exec", json.RawMessage(kind))
		}
	}
	return s, code, nil
}

// Rules are the deployment's action rules an update must keep, as
// OpenWhisk's controller checks a PUT: the system limits of its GET / and
// the runtime kinds it offers.
type Rules interface {
	Root(ctx context.Context) (entity.RootInfo, error)
}

// resolveDefaultKind turns a "family:default" kind into the family's
// default kind, as OpenWhisk's controller does before it stores an action
// (ExecManifest.Runtimes.resolveDefaultRuntime, common/scala/.../core/
// entity/ExecManifest.scala): a document that says "nodejs:default" names
// a kind no runtimes manifest lists, and OpenWhisk could not read it.
func (c *Controller) resolveDefaultKind(ctx context.Context, s *registry.Snapshot) error {
	family, version, ok := strings.Cut(s.Exec.Kind, ":")
	if !ok || version != "default" || c.rules == nil {
		return nil
	}
	root, err := c.rules.Root(ctx)
	if err != nil {
		return fmt.Errorf("lifecycle: read the deployment's runtimes: %w", err)
	}
	for _, k := range root.Runtimes[family] {
		if k.Default {
			s.Exec.Kind = k.Kind
			s.Annotations = s.Annotations.With("exec", k.Kind)
			return nil
		}
	}
	return reqerr.Field("exec.kind", "%q: the deployment has no default %s kind", s.Exec.Kind, family)
}

// checkRules refuses an update OpenWhisk's controller would refuse, naming
// each setting as the request does (limits.memory, exec.kind), not as
// OpenWhisk's controller words it (memory size).
func (c *Controller) checkRules(ctx context.Context, ns string, s registry.Snapshot) error {
	if c.rules == nil {
		return nil
	}
	root, err := c.rules.Root(ctx)
	if err != nil {
		return fmt.Errorf("lifecycle: read the deployment's limits: %w", err)
	}
	l := root.Limits
	mb := func(b int64) int { return int(b >> 20) }
	if lc, ok := c.rules.(versions.LimitsChecker); ok {
		// The tightest of MAX_MEMORY, the controller's and the namespace's
		// bounds, each error naming the bound and where it comes from.
		if err := lc.CheckLimits(ctx, ns, &s.Limits.Memory, &s.Limits.Timeout, &s.Limits.Logs,
			func(f string) string { return "limits." + f }); err != nil {
			return err
		}
		l.MinActionMemory, l.MaxActionMemory = 0, math.MaxInt64
		l.MinActionDuration, l.MaxActionDuration = 0, math.MaxInt64
		l.MinActionLogs, l.MaxActionLogs = 0, math.MaxInt64
	}
	switch {
	case s.Limits.Memory < mb(l.MinActionMemory):
		return reqerr.Field("limits.memory", "%d MB below allowed threshold of %d MB", s.Limits.Memory, mb(l.MinActionMemory))
	case s.Limits.Memory > mb(l.MaxActionMemory):
		return reqerr.Field("limits.memory", "%d MB exceeds allowed threshold of %d MB", s.Limits.Memory, mb(l.MaxActionMemory))
	case int64(s.Limits.Timeout) < l.MinActionDuration:
		return reqerr.Field("limits.timeout", "%d milliseconds below allowed threshold of %d milliseconds", s.Limits.Timeout, l.MinActionDuration)
	case int64(s.Limits.Timeout) > l.MaxActionDuration:
		return reqerr.Field("limits.timeout", "%d milliseconds exceeds allowed threshold of %d milliseconds", s.Limits.Timeout, l.MaxActionDuration)
	case s.Limits.Logs < mb(l.MinActionLogs) || s.Limits.Logs > mb(l.MaxActionLogs):
		return reqerr.Field("limits.logs", "%d MB must be between %d and %d MB", s.Limits.Logs, mb(l.MinActionLogs), mb(l.MaxActionLogs))
	case s.Limits.Concurrency < 1:
		return reqerr.Field("limits.concurrency", "%d must be at least 1", s.Limits.Concurrency)
	}
	switch s.Exec.Kind {
	case entity.KindSequence, entity.KindBlackbox:
		return nil
	}
	for family, kinds := range root.Runtimes {
		for _, k := range kinds {
			if k.Kind == s.Exec.Kind || (family+":default" == s.Exec.Kind && k.Default) {
				return nil
			}
		}
	}
	return reqerr.Field("exec.kind", "%q is not a runtime this deployment offers", s.Exec.Kind)
}
