package controller

import (
	"context"
	"net/http"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// resolvedAction is an action as invoked: its document with the parameters
// of its package (and of the binding it was reached through) merged under
// its own (WhiskActionMetaData.resolveActionAndMergeParameters).
type resolvedAction struct {
	entity.Action
	// Binding is "ns/binding" when the action was reached through a package
	// binding.
	Binding string
}

// FQN is the action's fully qualified name in its real package.
func (ra resolvedAction) FQN() fqn { return fqn{Path: ra.Namespace, Name: ra.Name} }

// resolvePackage follows a binding to the package it refers to. It returns
// the package with the binding's parameters merged over the package's, and
// the binding's path when there was one.
func (c *Controller) resolvePackage(ctx context.Context, f fqn) (entity.Package, string, error) {
	p, err := c.getPackage(ctx, f)
	if err != nil {
		return entity.Package{}, "", err
	}
	if !p.Binding.IsBinding() {
		return p, "", nil
	}
	target, err := c.getPackage(ctx, fqn{Path: p.Binding.Namespace, Name: p.Binding.Name})
	if err != nil {
		return entity.Package{}, "", err
	}
	target.Parameters = target.Parameters.Merge(p.Parameters)
	return target, f.DocID(), nil
}

// resolveAction finds the action f names, through its package and binding.
func (c *Controller) resolveAction(ctx context.Context, f fqn) (resolvedAction, error) {
	if f.Package() == "" {
		a, err := c.getAction(ctx, f)
		return resolvedAction{Action: a}, err
	}
	pkg, binding, err := c.resolvePackage(ctx, fqn{Path: f.Root(), Name: f.Package()})
	if err != nil {
		return resolvedAction{}, err
	}
	a, err := c.getAction(ctx, fqn{Path: pkg.Namespace + "/" + pkg.Name, Name: f.Name})
	if err != nil {
		return resolvedAction{}, err
	}
	a.Parameters = pkg.Parameters.Merge(a.Parameters)
	return resolvedAction{Action: a, Binding: binding}, nil
}

// immutableParameters are the parameters a caller may not override: with
// the "final" annotation, every parameter with a defined value.
func immutableParameters(a entity.Action) map[string]bool {
	out := map[string]bool{}
	if !a.Annotations.Bool("final") {
		return out
	}
	for _, p := range a.Parameters {
		if len(p.Value) > 0 && string(p.Value) != "null" {
			out[p.Key] = true
		}
	}
	return out
}

// initParameters names the parameters marked "init".
func initParameters(kv entity.KeyValues) []string {
	out := []string{}
	for _, p := range kv {
		if p.Init {
			out = append(out, p.Key)
		}
	}
	return out
}

// entitled checks that the caller may read an entity it references (a
// sequence component, a rule's trigger or action, a bound package): its own
// namespace, or a published package of another namespace.
func (c *Controller) entitled(ctx context.Context, id *identity, f fqn) error {
	if f.Root() == id.Namespace {
		return nil
	}
	forbidden := errStatus(http.StatusForbidden, msgForbidden(f.String()))
	if f.Package() == "" {
		return forbidden
	}
	p, err := c.getPackage(ctx, fqn{Path: f.Root(), Name: f.Package()})
	if err != nil || !p.Publish || p.Binding.IsBinding() {
		return forbidden
	}
	return nil
}
