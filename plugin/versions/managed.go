package versions

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/reqerr"
	"github.com/fnmgr/fnmgr/plugin/storage"
)

// managedVersion returns the version an OpenWhisk action name@suffix runs:
// version N, or the first route of alias suffix.
func managedVersion(f registry.Function, suffix string) (int, error) {
	if n, err := strconv.Atoi(suffix); err == nil {
		if _, ok := f.Version(n); ok {
			return n, nil
		}
		return 0, reqerr.New(reqerr.NotFound, "function %s has no version %d", f.FQN(), n)
	}
	al, ok := f.Aliases[suffix]
	if !ok || len(al.Routing) == 0 {
		return 0, reqerr.New(reqerr.NotFound, "function %s has no alias %q", f.FQN(), suffix)
	}
	return al.Routing[0].Version, nil
}

func (c *Controller) managedSnapshot(ctx context.Context, f registry.Function, suffix string) (registry.Snapshot, error) {
	n, err := managedVersion(f, suffix)
	if err != nil {
		return registry.Snapshot{}, err
	}
	v, err := c.reg.GetVersion(ctx, f.Namespace, f.Name, n)
	if err != nil {
		return registry.Snapshot{}, err
	}
	return v.Snapshot, nil
}

// actionFrom builds the OpenWhisk action that runs snapshot s under the
// function name (docNamespace from ns/name) with the given action name.
func actionFrom(ns, fnName, actionName string, s registry.Snapshot) entity.Action {
	docNS, _ := registry.ActionPath(ns, fnName)
	a := entity.Action{
		Namespace: docNS, Name: actionName, Version: "0.0.1",
		Exec: entity.Exec{Kind: s.Exec.Kind, Main: s.Exec.Main, Image: s.Exec.Image, Binary: s.Exec.Binary,
			Components: s.Exec.Components},
		Limits: s.Limits, Parameters: s.Parameters, Annotations: s.Annotations,
	}
	if s.Exec.CodeDigest != "" {
		a.Exec.Code = &entity.Code{}
	}
	return a
}

// code returns the bytes of snapshot s from the Storage Handler.
func (c *Controller) code(ctx context.Context, s registry.Snapshot) ([]byte, error) {
	if s.Exec.CodeDigest == "" {
		return nil, nil
	}
	b, err := c.store.Get(ctx, s.Exec.CodeDigest)
	if err != nil {
		return nil, fmt.Errorf("versions: code %s: %w", s.Exec.CodeDigest, err)
	}
	return b, nil
}

// writeManaged (re)writes the OpenWhisk action name@suffix from the
// registry.
func (c *Controller) writeManaged(ctx context.Context, f registry.Function, suffix string) error {
	n, err := managedVersion(f, suffix)
	if err != nil {
		return err
	}
	v, err := c.reg.GetVersion(ctx, f.Namespace, f.Name, n)
	if err != nil {
		return err
	}
	code, err := c.code(ctx, v.Snapshot)
	if err != nil {
		return err
	}
	_, base := registry.ActionPath(f.Namespace, f.Name)
	a := actionFrom(f.Namespace, f.Name, base+"@"+suffix, v.Snapshot)
	a.Annotations = a.Annotations.With(AnnotationOf, f.Name).With(AnnotationVersion, n).With(AnnotationState, string(f.State))
	if _, err := strconv.Atoi(suffix); err != nil {
		a.Annotations = a.Annotations.With(AnnotationAlias, suffix)
	}
	if !f.State.Runnable() {
		code = nil
		a, code = stubAction(a, f.FQN(), f.State, f.Reason, c.kindForStub(ctx, a.Exec.Kind), 0)
		a.Limits = c.stubLimits(ctx, f.Namespace, a.Limits)
		if err := c.noteStub(ctx, f, a, code); err != nil {
			return err
		}
	}
	docNS, _ := registry.ActionPath(f.Namespace, f.Name)
	if cur, err := c.ow.Get(ctx, docNS+"/"+a.Name); err == nil {
		if same, err := c.sameAction(ctx, cur, a, code); err != nil || same {
			return err
		}
		a.DocMeta = entity.DocMeta{ID: cur.ID, Rev: cur.Rev}
	}
	a.Updated = c.now().UnixMilli()
	if _, err := c.ow.Put(ctx, a, code); err != nil {
		return fmt.Errorf("versions: write %s@%s: %w", f.FQN(), suffix, err)
	}
	return nil
}

// syncAnnotations writes fnmgr-state (and fnmgr-version when the head is a
// published version) on the function's action, when they differ.
func (c *Controller) syncAnnotations(ctx context.Context, f registry.Function) error {
	if f.Gone {
		return nil
	}
	_, err := c.ow.Modify(ctx, registry.DocID(f.Namespace, f.Name), func(a *entity.Action) (bool, error) {
		ann, changed := stateAnnotations(f, a.Annotations)
		a.Annotations = ann
		return changed, nil
	})
	if errors.Is(err, whiskdb.ErrNotFound) {
		return nil
	}
	return err
}

// stateAnnotations returns ann with f's fnmgr-state and fnmgr-version
// (the latter only while the head is a published version), and whether
// that differs from ann.
func stateAnnotations(f registry.Function, ann entity.KeyValues) (entity.KeyValues, bool) {
	want := ann.With(AnnotationState, string(f.State))
	if v := publishedDigest(f, f.Head.Digest); v > 0 {
		want = want.With(AnnotationVersion, v)
	} else {
		want = want.Without(AnnotationVersion)
	}
	return want, string(want.Object()) != string(ann.Object())
}

// trim deletes the oldest revisions beyond the retention. Their artifacts
// stay while any revision or version references them (see GC).
func (c *Controller) trim(ctx context.Context, f registry.Function) error {
	if f.Revisions <= c.retention {
		return nil
	}
	old, err := c.reg.Revisions(ctx, f.Namespace, f.Name, 0, c.retention)
	if err != nil {
		return err
	}
	for _, r := range old {
		if err := c.reg.DeleteDoc(ctx, r.ID, r.Rev); err != nil && !errors.Is(err, registry.ErrNotFound) {
			return err
		}
	}
	return nil
}

// storeRef is the Storage Handler reference of version n (0: a revision).
func storeRef(f registry.Function, s registry.Snapshot, n int) storage.Ref {
	r := storage.Ref{Account: f.Namespace, Function: f.Name, Kind: s.Exec.Kind, Binary: s.Exec.Binary}
	if n > 0 {
		r.Version = strconv.Itoa(n)
	}
	return r
}

// Invalidate sends a cache invalidation for every OpenWhisk action of
// function f: its own, name@N of each version and name@alias of each
// alias. Writes skip a document that is already right, so after a crash
// between a write and its invalidation nothing else would tell the
// controllers: recovery calls this once the transition is finished.
func (c *Controller) Invalidate(ctx context.Context, f registry.Function) error {
	docNS, base := registry.ActionPath(f.Namespace, f.Name)
	ids := []string{registry.DocID(f.Namespace, f.Name)}
	for _, v := range f.Versions {
		ids = append(ids, docNS+"/"+base+"@"+strconv.Itoa(v.Version))
	}
	for alias := range f.Aliases {
		ids = append(ids, docNS+"/"+base+"@"+alias)
	}
	var errs []error
	for _, id := range ids {
		errs = append(errs, c.ow.Invalidate(ctx, id))
	}
	return errors.Join(errs...)
}
