package versions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/registry"
)

// A function that may not run (BLOCKED, UPDATING, RETIRED) has its code
// replaced, in every OpenWhisk action that would run it (name, name@N,
// name@alias), by a stub that runs no user code and answers with an
// application error naming the function and its state. Every invocation
// path of a stock OpenWhisk (the API, triggers and rules, sequences, web
// actions) then refuses it, with no change to OpenWhisk. The original
// stays in the registry and is written back exactly when the function may
// run again.

// StubMarker is in every stub's code, for people reading it. It does not
// tell a stub from user code (a user can copy it): fnmgr recognises its
// stubs only by their digests, kept in the registry (ownStub).
const StubMarker = "fnmgr-stub: this function may not run"

// AnnotationStub marks an action whose code is a stub.
const AnnotationStub = "fnmgr-stub"

// refusal is the error text a stub returns.
func refusal(fqn string, s registry.State, reason string) string {
	msg := fmt.Sprintf("Function %s is %s", fqn, s)
	switch s {
	case registry.Blocked:
		msg += ": invocations are refused until it is unblocked"
	case registry.Updating:
		msg += ": invocations are refused until the update ends"
	case registry.Retired:
		msg += " and no longer runs"
	}
	if reason != "" {
		msg += " (" + reason + ")"
	}
	return msg + "."
}

// stubCode returns the stub source for kind's family. A web action's stub
// returns its refusal as an HTTP response (423 for BLOCKED and UPDATING,
// 410 for RETIRED, a JSON body naming the function and state), since a
// web action's application error is its response; others return the
// sentence as the error.
func stubCode(kind, msg string, s registry.State, web bool) (string, []byte) {
	var errVal []byte
	if web {
		status := 423
		if s == registry.Retired {
			status = 410
		}
		errVal, _ = json.Marshal(map[string]any{"statusCode": status,
			"headers": map[string]string{"Content-Type": "application/json"},
			"body":    map[string]string{"error": msg, "state": string(s)}})
	} else {
		errVal, _ = json.Marshal(msg)
	}
	if entity.Family(kind) == "python" {
		return kind, []byte(fmt.Sprintf("# %s\nimport json\ndef main(args):\n    return {\"error\": json.loads(%q)}\n", StubMarker, errVal))
	}
	return kind, []byte(fmt.Sprintf("// %s\nfunction main() {\n  return { error: %s };\n}\n", StubMarker, errVal))
}

// HasStubMarker reports whether code contains the stub marker. Anyone can
// write it, so this is no proof that fnmgr wrote the code (see ownStub).
func HasStubMarker(code []byte) bool { return bytes.Contains(code, []byte(StubMarker)) }

// stubDigest is the registry.StubDigest of action a with code.
func stubDigest(a entity.Action, code []byte) string {
	return registry.StubDigest(a.Exec.Kind, a.Exec.Main, a.Exec.Binary, code)
}

// ownStub reports whether action a with code is a stub fnmgr wrote for f:
// its exec is exactly one whose digest f's registry document records, or
// (for stubs written before digests were recorded) exactly the stub fnmgr
// would write for a in f's current state. A copy of a stub with anything
// changed in its code or kind is user code.
func (c *Controller) ownStub(f registry.Function, a entity.Action, code []byte) bool {
	if slices.Contains(f.Stubs, stubDigest(a, code)) {
		return true
	}
	if f.State.Runnable() || !HasStubMarker(code) {
		return false
	}
	want, wantCode := stubAction(a, f.FQN(), f.State, f.Reason, c.stubKind, 0)
	return want.Exec.Kind == a.Exec.Kind && a.Exec.Main == "" && !a.Exec.Binary && bytes.Equal(wantCode, code)
}

// errUnchanged leaves a registry document as it is.
var errUnchanged = errors.New("unchanged")

// noteStub records the digest of stub a (with code) in f's registry
// document, before the stub is written to OpenWhisk, so that the change
// feed recognises it (and nothing else) as fnmgr's.
func (c *Controller) noteStub(ctx context.Context, f registry.Function, a entity.Action, code []byte) error {
	d := stubDigest(a, code)
	if slices.Contains(f.Stubs, d) {
		return nil
	}
	_, err := c.reg.Update(ctx, f.Namespace, f.Name, func(f *registry.Function) error {
		if slices.Contains(f.Stubs, d) {
			return errUnchanged
		}
		f.Stubs = append(f.Stubs, d)
		if n := len(f.Stubs) - registry.MaxStubs; n > 0 {
			f.Stubs = slices.Delete(f.Stubs, 0, n)
		}
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("versions: record the stub of %s: %w", f.FQN(), err)
	}
	return nil
}

// stubAction turns a (an action built from a snapshot) into its stub.
// src is the head revision the stub stands for (0 for version and alias
// actions).
func stubAction(a entity.Action, fqn string, s registry.State, reason, stubKind string, src int) (entity.Action, []byte) {
	kind := a.Exec.Kind
	if entity.Family(kind) != "nodejs" && entity.Family(kind) != "python" {
		kind = stubKind
	}
	kind, code := stubCode(kind, refusal(fqn, s, reason), s, a.Annotations.Bool("web-export"))
	a.Exec = entity.Exec{Kind: kind, Code: &entity.Code{}}
	if a.Limits.Timeout == 0 {
		a.Limits = entity.DefaultLimits()
	}
	var marker any = true
	if src > 0 {
		marker = src
	}
	a.Annotations = a.Annotations.With("exec", kind).With(AnnotationStub, marker).With(AnnotationState, string(s))
	return a, code
}

// stubLimits are the limits of a stub of a function of namespace ns whose
// own limits are l: l within the deployment's ranges, so that the stub
// runs and says why the function may not (see deployment.Info.FitLimits).
// When the ranges cannot be read, l stays: the stub may then fail with
// OpenWhisk's limits error, which still runs none of the function's code.
func (c *Controller) stubLimits(ctx context.Context, ns string, l entity.Limits) entity.Limits {
	f, ok := c.limits.(LimitsFitter)
	if !ok {
		return l
	}
	fitted, err := f.FitLimits(ctx, ns, l)
	if err != nil {
		c.log.Warn("fit a stub's limits into the deployment's ranges; keeping the function's", "namespace", ns, "err", err)
		return l
	}
	return fitted
}

// Materialize writes every OpenWhisk action of f as f's state requires:
// the head and each version and alias from the registry when f may run,
// stubs when it may not. It is idempotent; lifecycle transitions and crash
// recovery call it. headSnap, when not nil, replaces the head snapshot
// (an update being applied).
func (c *Controller) Materialize(ctx context.Context, f registry.Function) error {
	if f.Gone || f.Purged {
		return nil
	}
	if f.Revisions > 0 {
		head, err := c.reg.GetRevision(ctx, f.Namespace, f.Name, f.Head.Revision)
		if err != nil {
			return err
		}
		if err := c.writeHead(ctx, f, head.Snapshot); err != nil {
			return err
		}
	}
	for _, v := range f.Versions {
		if err := c.writeManaged(ctx, f, strconv.Itoa(v.Version)); err != nil {
			return err
		}
	}
	for alias := range f.Aliases {
		if err := c.writeManaged(ctx, f, alias); err != nil {
			return err
		}
	}
	return nil
}

// writeHead writes the function's own action from snapshot s (or its stub),
// keeping the document's OpenWhisk version counter and publish flag.
func (c *Controller) writeHead(ctx context.Context, f registry.Function, s registry.Snapshot) error {
	_, name := registry.ActionPath(f.Namespace, f.Name)
	a := actionFrom(f.Namespace, f.Name, name, s)
	var code []byte
	var err error
	if f.State.Runnable() {
		if code, err = c.code(ctx, s); err != nil {
			return err
		}
		a.Annotations = a.Annotations.With(AnnotationState, string(f.State))
		if v := publishedDigest(f, f.Head.Digest); v > 0 {
			a.Annotations = a.Annotations.With(AnnotationVersion, v)
		}
	} else {
		a, code = stubAction(a, f.FQN(), f.State, f.Reason, c.kindForStub(ctx, a.Exec.Kind), f.Head.Revision)
		a.Limits = c.stubLimits(ctx, f.Namespace, a.Limits)
		if err := c.noteStub(ctx, f, a, code); err != nil {
			return err
		}
	}
	docid := registry.DocID(f.Namespace, f.Name)
	cur, err := c.ow.Get(ctx, docid)
	if err == nil {
		if same, err := c.sameAction(ctx, cur, a, code); err != nil || same {
			return err
		}
		a.DocMeta = entity.DocMeta{ID: cur.ID, Rev: cur.Rev}
		a.Version, a.Publish = cur.Version, cur.Publish
	}
	a.Updated = c.now().UnixMilli()
	if _, err := c.ow.Put(ctx, a, code); err != nil {
		return fmt.Errorf("versions: write %s: %w", f.FQN(), err)
	}
	return nil
}

// sameAction reports whether cur already is a with code (so no write is
// needed).
func (c *Controller) sameAction(ctx context.Context, cur, a entity.Action, code []byte) (bool, error) {
	curCode, err := c.ow.Code(ctx, cur)
	if err != nil {
		return false, nil
	}
	if !bytes.Equal(curCode, code) || cur.Exec.Kind != a.Exec.Kind || cur.Exec.Main != a.Exec.Main || cur.Exec.Image != a.Exec.Image {
		return false, nil
	}
	x, _ := json.Marshal([]any{cur.Limits, cur.Parameters, cur.Annotations, cur.Exec.Components})
	y, _ := json.Marshal([]any{a.Limits, a.Parameters, a.Annotations, a.Exec.Components})
	return bytes.Equal(x, y), nil
}
