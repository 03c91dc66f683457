package versions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/feed"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/storage"
)

// Observe processes one change of the whisks database. It is idempotent: a
// change handed over again changes nothing.
func (c *Controller) Observe(ctx context.Context, ch feed.Change) error {
	if strings.HasPrefix(ch.ID, "_design/") {
		return nil
	}
	ns, name, ok := registry.SplitDocID(ch.ID)
	if !ok || registry.IsTemporary(name) {
		return nil
	}
	if ch.Deleted {
		base, _, managed := registry.SplitManaged(name)
		if !managed {
			base = name
		}
		defer Lock(ns, base)()
		return c.observeDeleted(ctx, ns, name)
	}
	kind, err := entity.Kind(ch.Doc)
	if err != nil {
		c.m.malformed()
		c.log.Warn("skipping malformed whisks document", "id", ch.ID, "err", err)
		return nil
	}
	if kind != entity.TypeAction {
		return nil
	}
	var a entity.Action
	if err := json.Unmarshal(ch.Doc, &a); err != nil {
		c.m.malformed()
		c.log.Warn("skipping malformed action document", "id", ch.ID, "err", err)
		return nil
	}
	base, suffix, managed := registry.SplitManaged(name)
	if !managed {
		base = name
	}
	// One function's changes (its own action, name@N, name@alias) are
	// handled one at a time, and not while fnmgr operates on it.
	defer Lock(ns, base)()
	if managed {
		if handled, err := c.observeManaged(ctx, ns, base, suffix, a); handled || err != nil {
			return err
		}
	}
	return c.observeAction(ctx, ns, name, a)
}

// pendingAttachment reports whether a is the first of OpenWhisk's two
// writes of large code: the document names a couch: attachment it does not
// carry yet.
func pendingAttachment(a entity.Action) bool {
	c := a.Exec.Code
	if c == nil || c.Ref == nil || !strings.HasPrefix(c.Ref.AttachmentName, entity.CouchPrefix) {
		return false
	}
	_, ok := a.Attachments[entity.CouchAttachmentID(c.Ref.AttachmentName)]
	return !ok
}

func (c *Controller) observeAction(ctx context.Context, ns, name string, a entity.Action) error {
	return c.observeActionAs(ctx, ns, name, a, false)
}

// observeActionAs is observeAction; applying is set when the caller is an
// update writing its own result (see current.applying).
func (c *Controller) observeActionAs(ctx context.Context, ns, name string, a entity.Action, applying bool) error {
	f, err := c.reg.GetFunction(ctx, ns, name)
	if err != nil && !errors.Is(err, registry.ErrNotFound) {
		return err
	}
	cur := &current{f: f, known: err == nil, applying: applying}
	missed, err := c.missedRevisions(ctx, cur.f, cur.known, a)
	if err != nil {
		return err
	}
	for _, m := range missed {
		if err := c.record(ctx, ns, name, m, cur); err != nil {
			return err
		}
	}
	return c.record(ctx, ns, name, a, cur)
}

// current is the registry's function document as one change's handling
// last read or wrote it (under the function's lock), so that recording
// several revisions reads it once.
type current struct {
	f     registry.Function
	known bool
	// applying is set while an update records the result it wrote itself:
	// that write must not be replaced by a stub although the function is
	// still UPDATING.
	applying bool
}

// settled reports whether the observed state of f is for the change feed
// to enforce: no transition is in progress, or an update is (its lock let
// go while its test invocation runs) and this is not the update's own
// write. Other transitions write the actions themselves.
func (cur *current) settled() bool {
	t := cur.f.Transition
	return t == nil || (t.Op == "update" && cur.f.State == registry.Updating && !cur.applying)
}

func (cur *current) set(f registry.Function) { cur.f, cur.known = f, true }

// maxHistory bounds how many earlier revisions of one document are read
// back when changes were missed.
const maxHistory = 50

// missedRevisions returns the revisions of a's document written after the
// function's head and before a, oldest first. The change feed shows only a
// document's latest revision, so updates made in a burst, or while fnmgr
// was down, are read back from the document's revision history (those not
// yet compacted away).
func (c *Controller) missedRevisions(ctx context.Context, f registry.Function, known bool, a entity.Action) ([]entity.Action, error) {
	gen := generation(a.Rev)
	headRev := c.seen.latest(a.ID, f.Head.OWRev)
	if gen <= 1 || (known && headRev != "" && generation(headRev)+1 >= gen) {
		return nil, nil
	}
	if known && (f.Gone || f.Purged) {
		// Re-created after a delete: the revisions before the delete
		// belong to the old action (seen then, or the purge's to drop).
		return nil, nil
	}
	hist, err := c.ow.History(ctx, a.ID, a.Rev)
	if errors.Is(err, whiskdb.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("versions: history of %s: %w", a.ID, err)
	}
	start := 0
	if known {
		i := slices.Index(hist, headRev)
		if i < 0 {
			return nil, nil // head not in this history (recreated, or compacted): only the latest is known
		}
		start = i + 1
	}
	if end := len(hist) - 1; end-start > maxHistory {
		start = end - maxHistory
	}
	var out []entity.Action
	for _, r := range hist[start : len(hist)-1] {
		d, err := c.ow.GetRev(ctx, a.ID, r)
		if errors.Is(err, whiskdb.ErrNotFound) || (err == nil && d.Deleted) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("versions: revision %s of %s: %w", r, a.ID, err)
		}
		out = append(out, d)
	}
	return out, nil
}

func generation(rev string) int {
	n, _ := strconv.Atoi(rev[:max(strings.IndexByte(rev, '-'), 0)])
	return n
}

// record makes a a revision of function ns/name unless it equals the head.
// cur is the function as last read or written; record keeps it current.
func (c *Controller) record(ctx context.Context, ns, name string, a entity.Action, cur *current) error {
	if pendingAttachment(a) {
		return nil
	}
	code, err := c.ow.Code(ctx, a)
	if err != nil {
		if errors.Is(err, whiskdb.ErrExternalCode) {
			return c.untracked(ctx, ns, name, a, err, cur)
		}
		if errors.Is(err, whiskdb.ErrNotFound) {
			return nil // deleted or compacted since; nothing to record
		}
		if errors.Is(err, entity.ErrMalformed) {
			c.m.malformed()
			c.log.Warn("skipping an action whose code cannot be read", "function", ns+"/"+name, "err", err)
			return nil
		}
		return fmt.Errorf("versions: code of %s/%s: %w", ns, name, err)
	}
	f, known := cur.f, cur.known
	// Only a stub fnmgr wrote, exactly, is a stub: a copy of one with code
	// appended (`wsk action get f --save`, edit, `wsk action update f`) is
	// user code like any other, recorded and, while f may not run,
	// replaced by the stub again.
	stub := known && c.ownStub(f, a, code)
	if !stub && HasStubMarker(code) {
		c.m.spoofed()
		c.log.Warn("an action carries fnmgr's stub marker but is not a stub fnmgr wrote; treating it as user code",
			"function", ns+"/"+name)
	}
	snap := registry.SnapshotOf(a, code)
	if stub {
		if f.Revisions == 0 {
			return nil // a stub of a function with no revision left: nothing to record
		}
		// The stub names the revision it stands for; what differs from that
		// revision (limits, parameters, annotations) a user changed.
		src := f.Head.Revision
		if n, err := strconv.Atoi(stubSource(a)); err == nil && n > 0 {
			src = n
		}
		base, err := c.reg.GetRevision(ctx, ns, name, src)
		if errors.Is(err, registry.ErrNotFound) {
			base, err = c.reg.GetRevision(ctx, ns, name, f.Head.Revision)
		}
		if err != nil {
			return err
		}
		if sameLimits(a.Limits, c.stubLimits(ctx, ns, base.Snapshot.Limits)) {
			// The stub's limits are those fnmgr gave it (the
			// function's, fitted into the deployment): not a change.
			a.Limits = base.Snapshot.Limits
		}
		snap = fromStub(a, base.Snapshot)
		if snap.Digest() == base.Digest {
			// fnmgr's own stub, unchanged (perhaps of an older head):
			// nothing to record; only enforcement may be due.
			if f.Transition == nil && f.State.Runnable() {
				return c.enforce(ctx, f)
			}
			return nil
		}
	}
	digest := snap.Digest()
	// Enforcement: a function that may not run must show stubs, one that
	// may must not; a transition in progress settles this itself.
	enforce := known && cur.settled() && f.State.Runnable() == stub
	if known && f.Revisions > 0 && f.Head.Digest == digest && !f.Gone && !f.Purged {
		if generation(a.Rev) > generation(f.Head.OWRev) {
			c.seen.note(a.ID, a.Rev) // nothing to record: no write either
		}
		if enforce {
			return c.enforce(ctx, f)
		}
		return nil
	}
	if stub {
		code, err = c.code(ctx, snap)
		if err != nil {
			return err
		}
	}
	if code != nil {
		ref := storage.Ref{Account: ns, Function: name, Kind: a.Exec.Kind, Binary: a.Exec.Binary}
		if _, err := c.store.Put(ctx, ref, code); err != nil {
			return fmt.Errorf("versions: store code of %s/%s: %w", ns, name, err)
		}
	}
	n := f.Revisions + 1
	var observed time.Time
	for {
		rev := registry.Revision{Revision: n, Digest: digest, Snapshot: snap, OWRev: a.Rev, OWVersion: a.Version,
			Observed: c.now().UTC(), Source: "openwhisk"}
		stored, err := c.reg.PutRevision(ctx, ns, name, rev)
		if err == nil {
			observed = rev.Observed
			break
		}
		if errors.Is(err, registry.ErrConflict) && stored.Digest == digest {
			observed = stored.Observed
			break
		}
		if !errors.Is(err, registry.ErrConflict) {
			return err
		}
		// Revision n was recorded for an earlier change whose function
		// update a crash cut short: keep it, and record this one after it.
		n++
	}
	isNew, from, newLife := false, f.State, false
	update := func(f *registry.Function) error {
		if f.Revisions >= n && f.Head.Revision >= n {
			return nil
		}
		created := f.Rev == "" || (f.Revisions == 0 && f.Untracked != "")
		f.Untracked = ""
		f.Revisions = n
		f.Head = registry.Head{Revision: n, Digest: digest, Updated: c.now().UTC(), OWRev: a.Rev, OWVersion: a.Version}
		f.Limits = a.Limits
		if f.Gone || f.Purged {
			f.Gone, f.GoneAt = false, nil
			switch {
			case f.Purged:
				// The name starts a new function once the old one is
				// purged; its history stays.
				f.Purged, f.PurgeAt, f.Reason, f.PrevState, f.Stubs = false, nil, "", "", nil
				f.State, newLife = registry.Latest, true
			case f.State != registry.Retired:
				f.State = registry.Latest
			}
			// A RETIRED function re-created within its grace period stays
			// RETIRED and gets the stub (SPEC.md section 3: changed
			// outside fnmgr, "recorded; stays retired").
		}
		switch f.State {
		case registry.Latest, registry.Published:
			f.State = registry.Latest
			if publishedDigest(*f, digest) > 0 {
				f.State = registry.Published
			}
		}
		if created {
			c.m.adopted()
			isNew = true
		}
		return nil
	}
	if known {
		f, err = c.reg.UpdateKnown(ctx, f, update)
	} else {
		f, err = c.reg.Create(ctx, ns, name, update)
	}
	if err != nil {
		return err
	}
	cur.set(f)
	c.seen.forget(a.ID)
	c.m.revision()
	c.log.Info("revision recorded", "function", f.FQN(), "revision", n, "state", f.State)
	if isNew && c.onNew != nil {
		c.onNew(ctx, ns, name, a.Annotations)
	}
	// A change fnmgr acts on is one history entry (once: keyed by the
	// revision's observation); the revisions list records the others.
	switch {
	case newLife:
		err = c.audit(ctx, f, observed, registry.History{Op: "outside-change", By: byOpenWhisk, From: registry.Retired, Revision: n,
			Reason: "action created again after the purge: a new function"})
	case known && !f.State.Runnable() && !cur.applying:
		err = c.audit(ctx, f, observed, registry.History{Op: "outside-change", By: byOpenWhisk, From: from, Revision: n,
			Reason: fmt.Sprintf("changed on OpenWhisk while %s: recorded as revision %d, the stub put back", f.State, n)})
	}
	if err != nil {
		return err
	}
	if cur.settled() && (!f.State.Runnable() || stub) {
		if err := c.enforce(ctx, f); err != nil {
			return err
		}
	} else if _, changed := stateAnnotations(f, a.Annotations); changed {
		// The document does not show f's state yet (an update that
		// replaced the annotations, or a new action).
		c.scheduleAnnotations(ns, name)
	}
	return c.trim(ctx, f)
}

// untracked records that revision a of function ns/name could not be
// recorded because its code, kept outside CouchDB, could not be read: the
// function shows "untracked" with the reason in the admin API until a
// revision of it is recorded. Nothing is skipped in silence: the failure
// is logged and counted.
func (c *Controller) untracked(ctx context.Context, ns, name string, a entity.Action, cause error, cur *current) error {
	c.m.untrackedCode()
	c.log.Warn("cannot read an action's code kept outside CouchDB; the function is untracked until its code can be read",
		"function", ns+"/"+name, "rev", a.Rev, "err", cause)
	reason := fmt.Sprintf("revision %s: %v", a.Rev, cause)
	mark := func(f *registry.Function) error {
		if f.Head.OWRev == a.Rev {
			return nil // recorded after all
		}
		if f.Rev == "" {
			f.State = registry.Latest
			f.Limits = a.Limits
		}
		f.Untracked = reason
		return nil
	}
	var f registry.Function
	var err error
	if cur.known {
		f, err = c.reg.UpdateKnown(ctx, cur.f, mark)
	} else {
		f, err = c.reg.Create(ctx, ns, name, mark)
	}
	if err != nil {
		return fmt.Errorf("versions: mark %s/%s untracked: %w", ns, name, err)
	}
	cur.set(f)
	if f.Revisions > 0 && f.Transition == nil && !f.State.Runnable() {
		// Whatever the unreadable code is, it may not run: the stub goes
		// back (fail closed), though the change cannot be recorded.
		return c.enforce(ctx, f)
	}
	return nil
}

// enforce writes f's own action back to what its state requires.
func (c *Controller) enforce(ctx context.Context, f registry.Function) error {
	head, err := c.reg.GetRevision(ctx, f.Namespace, f.Name, f.Head.Revision)
	if err != nil {
		return err
	}
	if !f.State.Runnable() {
		c.m.enforced()
		c.log.Warn("function may not run; its code was changed outside fnmgr and is replaced by a stub again",
			"function", f.FQN(), "state", f.State)
	}
	return c.writeHead(ctx, f, head.Snapshot)
}

// stubSource is the revision number a head stub stands for ("" when the
// stub does not say).
func stubSource(a entity.Action) string {
	raw, ok := a.Annotations.Get(AnnotationStub)
	if !ok {
		return ""
	}
	return strings.Trim(string(raw), `"`)
}

// fromStub is what a user meant by changing a stubbed action: the real
// code (the head's exec) with the document's limits, parameters and
// annotations.
func fromStub(a entity.Action, head registry.Snapshot) registry.Snapshot {
	s := registry.SnapshotOf(a, nil)
	s.Exec = head.Exec
	s.Annotations = s.Annotations.With("exec", head.Exec.Kind)
	if _, ok := head.Annotations.Get("exec"); !ok {
		s.Annotations = s.Annotations.Without("exec")
	}
	return s
}

// sameLimits reports whether a and b are the same limits (Instances by value).
func sameLimits(a, b entity.Limits) bool {
	ai, bi := a.Instances, b.Instances
	a.Instances, b.Instances = nil, nil
	return a == b && (ai == nil) == (bi == nil) && (ai == nil || *ai == *bi)
}

// publishedDigest returns the newest version whose digest is d, or 0.
func publishedDigest(f registry.Function, d string) int {
	for i := len(f.Versions) - 1; i >= 0; i-- {
		if f.Versions[i].Digest == d {
			return f.Versions[i].Version
		}
	}
	return 0
}

func (c *Controller) observeDeleted(ctx context.Context, ns, name string) error {
	if base, suffix, ok := registry.SplitManaged(name); ok {
		f, err := c.reg.GetFunction(ctx, ns, base)
		if err == nil && managedSuffix(f, suffix) && f.State != registry.Retired {
			c.log.Warn("version action deleted outside fnmgr; restoring it", "function", f.FQN(), "action", name)
			return c.writeManaged(ctx, f, suffix)
		}
	}
	f, err := c.reg.GetFunction(ctx, ns, name)
	if errors.Is(err, registry.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if f.Gone {
		// Seen before: its history entry was recorded then, or a crash
		// came between; recorded again under the same key, it is there
		// once.
		return c.auditDeleted(ctx, f)
	}
	now := c.now().UTC()
	f, err = c.reg.Update(ctx, ns, name, func(f *registry.Function) error {
		if f.Gone {
			return nil
		}
		f.Gone, f.GoneAt = true, &now
		if f.State != registry.Updating && f.State != registry.Retired {
			f.PrevState, f.State, f.Reason = f.State, registry.Retired, reasonDeleted
		}
		// Purged after the grace period like a retire, and only then may
		// the name start a new function (a re-created action gets the
		// stub until then).
		if f.PurgeAt == nil && !f.Purged {
			at := c.now().UTC().Add(c.grace)
			f.PurgeAt = &at
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.log.Info("action deleted outside fnmgr; function retired", "function", ns+"/"+name)
	return c.auditDeleted(ctx, f)
}

// auditDeleted records in f's history that its action was deleted
// outside fnmgr, keyed by GoneAt: once, however often the deletion is
// seen. A deletion the purge made is its own entry; one recorded before
// GoneAt existed is not recorded again.
func (c *Controller) auditDeleted(ctx context.Context, f registry.Function) error {
	if f.Purged || f.GoneAt == nil {
		return nil
	}
	from := f.State
	if f.State == registry.Retired && f.Reason == reasonDeleted && f.PrevState != "" {
		from = f.PrevState
	}
	return c.audit(ctx, f, *f.GoneAt, registry.History{Op: "delete", By: byOpenWhisk, From: from, To: f.State,
		Reason: "action deleted outside fnmgr"})
}

// reasonDeleted is the reason of a function retired because its action
// was deleted outside fnmgr.
const reasonDeleted = "deleted outside fnmgr"

// managedSuffix reports whether suffix names a live version or alias of f.
func managedSuffix(f registry.Function, suffix string) bool {
	if n, err := strconv.Atoi(suffix); err == nil {
		_, ok := f.Version(n)
		return ok
	}
	_, ok := f.Aliases[suffix]
	return ok
}

// observeManaged keeps name@N and name@alias as fnmgr wrote them: a change
// made outside fnmgr is reverted and logged. handled is false when the
// action is not one fnmgr manages (a user may name an action "a@b").
func (c *Controller) observeManaged(ctx context.Context, ns, base, suffix string, a entity.Action) (bool, error) {
	f, err := c.reg.GetFunction(ctx, ns, base)
	if errors.Is(err, registry.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return true, err
	}
	if !managedSuffix(f, suffix) {
		return false, nil
	}
	if pendingAttachment(a) {
		return true, nil
	}
	want, err := c.managedSnapshot(ctx, f, suffix)
	if err != nil {
		return true, err
	}
	code, err := c.ow.Code(ctx, a)
	if errors.Is(err, whiskdb.ErrExternalCode) {
		// fnmgr writes its actions' code into CouchDB, never into an
		// external attachment store: someone else wrote this one.
		c.m.untrackedCode()
		c.log.Warn("the code of a version or alias action cannot be read; reverting it", "function", f.FQN(), "action", a.FQN(), "err", err)
		code, err = nil, nil
	}
	if err != nil {
		return true, fmt.Errorf("versions: code of %s: %w", a.FQN(), err)
	}
	if !(&current{f: f, known: true}).settled() {
		return true, nil // the transition writes these actions itself
	}
	stub := c.ownStub(f, a, code)
	v, _ := managedVersion(f, suffix)
	alias := ""
	if _, err := strconv.Atoi(suffix); err != nil {
		alias = suffix
	}
	if f.State.Runnable() {
		if !stub && registry.SnapshotOf(a, code).Digest() == want.Digest() {
			return true, nil
		}
	} else if stub {
		return true, nil
	}
	if cur, err := c.ow.Get(ctx, a.ID); err == nil && cur.Rev != a.Rev {
		return true, nil // a stale change: the newer one is delivered too, and judged then
	}
	c.m.reverted()
	c.log.Warn("immutable version action changed outside fnmgr; reverting", "function", f.FQN(), "action", a.FQN())
	if err := c.writeManaged(ctx, f, suffix); err != nil {
		return true, err
	}
	if stub {
		return true, nil // fnmgr's own stub of an earlier state, put right
	}
	return true, c.audit(ctx, f, c.now(), registry.History{Op: "outside-change", By: byOpenWhisk, Version: v,
		Alias: alias, Reason: fmt.Sprintf("%s changed on OpenWhisk: reverted", a.FQN())})
}

// Sync records the current OpenWhisk document of function ns/name (and any
// revisions of it the feed has not delivered yet), as the change feed
// would. Lifecycle transitions call it so the registry's head is current
// before they write actions from it.
func (c *Controller) Sync(ctx context.Context, ns, name string) error {
	a, err := c.ow.Get(ctx, registry.DocID(ns, name))
	if errors.Is(err, whiskdb.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("versions: sync %s/%s: %w", ns, name, err)
	}
	return c.observeAction(ctx, ns, name, a)
}

// SyncApplied is Sync for an update that has just written its result (the
// function still UPDATING): what it finds is recorded, not replaced by a
// stub.
func (c *Controller) SyncApplied(ctx context.Context, ns, name string) error {
	a, err := c.ow.Get(ctx, registry.DocID(ns, name))
	if errors.Is(err, whiskdb.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("versions: sync %s/%s: %w", ns, name, err)
	}
	return c.observeActionAs(ctx, ns, name, a, true)
}

// Code returns the bytes of snapshot s from the Storage Handler.
func (c *Controller) Code(ctx context.Context, s registry.Snapshot) ([]byte, error) {
	return c.code(ctx, s)
}

// WriteProbe writes snapshot s as the OpenWhisk action name@suffix of
// function f, with real code whatever f's state (an update's test copy).
func (c *Controller) WriteProbe(ctx context.Context, f registry.Function, suffix string, s registry.Snapshot) (string, error) {
	code, err := c.code(ctx, s)
	if err != nil {
		return "", err
	}
	_, base := registry.ActionPath(f.Namespace, f.Name)
	a := actionFrom(f.Namespace, f.Name, base+"@"+suffix, s)
	a.Annotations = a.Annotations.With(AnnotationOf, f.Name)
	a.Updated = c.now().UnixMilli()
	out, err := c.ow.Put(ctx, a, code)
	if err != nil {
		return "", fmt.Errorf("versions: write probe %s@%s: %w", f.FQN(), suffix, err)
	}
	return out.ID, nil
}

// WriteSnapshot writes snapshot s as function f's own action with real
// code (an update being applied), keeping OpenWhisk's version counter.
func (c *Controller) WriteSnapshot(ctx context.Context, f registry.Function, s registry.Snapshot) error {
	f.State = registry.Latest
	return c.writeHead(ctx, f, s)
}

// StoreCode stores code for function f and returns its digest.
func (c *Controller) StoreCode(ctx context.Context, f registry.Function, s registry.Snapshot, code []byte) (string, error) {
	return c.store.Put(ctx, storeRef(f, s, 0), code)
}

// DeleteAction removes the OpenWhisk action docid.
func (c *Controller) DeleteAction(ctx context.Context, docid string) error {
	return c.ow.Delete(ctx, docid)
}

// Storage returns the Storage Handler.
func (c *Controller) Storage() storage.Store { return c.store }
