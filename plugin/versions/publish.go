package versions

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"sync"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/reqerr"
)

// locks serialises fnmgr's own operations on one function inside this
// process; the registry's revisions protect against everything else.
type locks struct{ m sync.Map }

func (l *locks) lock(key string) func() {
	v, _ := l.m.LoadOrStore(key, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

var fnLocks locks

// Lock serialises fnmgr's operations on function ns/name (versions and
// lifecycle share it); call the returned func to release.
func Lock(ns, name string) func() { return fnLocks.lock(ns + "/" + name) }

// Published is the outcome of Publish.
type Published struct {
	Version registry.Version
	Created bool // false: the head was already the newest version
}

// Publish makes the head of ns/name immutable version N and the OpenWhisk
// action name@N. Publishing a head identical to the newest version returns
// that version with Created false.
func (c *Controller) Publish(ctx context.Context, ns, name, description, by string) (Published, error) {
	defer Lock(ns, name)()
	f, err := c.reg.GetFunction(ctx, ns, name)
	if err != nil {
		return Published{}, err
	}
	if err := writable(f, "publish"); err != nil {
		return Published{}, err
	}
	if f.Revisions == 0 {
		return Published{}, reqerr.New(reqerr.Conflict, "function %s has no revision to publish yet", f.FQN())
	}
	head, err := c.reg.GetRevision(ctx, ns, name, f.Head.Revision)
	if err != nil {
		return Published{}, err
	}
	if n := len(f.Versions); n > 0 && f.Versions[n-1].Digest == head.Digest {
		v, err := c.reg.GetVersion(ctx, ns, name, f.Versions[n-1].Version)
		if err != nil {
			return Published{}, err
		}
		// Recorded when it was published; again (once) should a crash have
		// cut that publish short of its history entry.
		return Published{Version: v}, c.audit(ctx, f, v.Created, registry.History{Op: "publish", By: v.CreatedBy,
			Version: v.Version, Revision: v.Revision, Reason: v.Description})
	}
	from := f.State
	if err := c.claimable(ctx, f, strconv.Itoa(f.LastVersion+1)); err != nil {
		return Published{}, err
	}
	// Reserve the number first: a crash after this leaves a gap, never a
	// number used twice.
	var n int
	if _, err := c.reg.Update(ctx, ns, name, func(f *registry.Function) error {
		f.LastVersion++
		n = f.LastVersion
		return nil
	}); err != nil {
		return Published{}, err
	}
	v := registry.Version{Version: n, Digest: head.Digest, Snapshot: head.Snapshot, Revision: head.Revision,
		Description: description, Created: c.now().UTC(), CreatedBy: by}
	code, err := c.code(ctx, v.Snapshot)
	if err != nil {
		return Published{}, err
	}
	if code != nil {
		if _, err := c.store.Put(ctx, storeRef(f, v.Snapshot, n), code); err != nil {
			return Published{}, fmt.Errorf("versions: store version %d of %s: %w", n, f.FQN(), err)
		}
	}
	if v, err = c.reg.PutVersion(ctx, ns, name, v); err != nil {
		return Published{}, err
	}
	f, err = c.reg.Update(ctx, ns, name, func(f *registry.Function) error {
		if _, ok := f.Version(n); !ok {
			f.Versions = append(f.Versions, registry.VersionRef{Version: n, Digest: v.Digest, Created: v.Created,
				Description: v.Description})
		}
		if f.State == registry.Latest && f.Head.Digest == v.Digest {
			f.State = registry.Published
		}
		return nil
	})
	if err != nil {
		return Published{}, err
	}
	if err := c.writeManaged(ctx, f, strconv.Itoa(n)); err != nil {
		return Published{}, err
	}
	if err := c.syncAnnotations(ctx, f); err != nil {
		return Published{}, err
	}
	if err := c.audit(ctx, f, v.Created, registry.History{Op: "publish", By: by, From: from, Version: n,
		Revision: v.Revision, Reason: description}); err != nil {
		return Published{}, err
	}
	c.m.published()
	c.log.InfoContext(ctx, "version published", "function", f.FQN(), "version", n, "by", by)
	return Published{Version: v, Created: true}, nil
}

// writable refuses changes to a function that is retired (ErrGone) or
// being updated (ErrLocked).
func writable(f registry.Function, op string) error {
	switch f.State {
	case registry.Retired:
		return reqerr.New(reqerr.Gone, "%s: function %s is RETIRED", op, f.FQN())
	case registry.Updating:
		return reqerr.New(reqerr.Locked, "%s: function %s is UPDATING", op, f.FQN())
	}
	return nil
}

// RetireVersion withdraws version n: the OpenWhisk action name@N is
// deleted and the version leaves the function's list (its record stays).
// It is refused with ErrConflict while an alias routes to it.
func (c *Controller) RetireVersion(ctx context.Context, ns, name string, n int) error {
	defer Lock(ns, name)()
	f, err := c.reg.GetFunction(ctx, ns, name)
	if err != nil {
		return err
	}
	if err := writable(f, "retire version"); err != nil {
		return err
	}
	if _, ok := f.Version(n); !ok {
		return reqerr.New(reqerr.NotFound, "function %s has no version %d", f.FQN(), n)
	}
	started, from := c.now().UTC(), f.State
	for alias, al := range f.Aliases {
		for _, r := range al.Routing {
			if r.Version == n {
				return reqerr.New(reqerr.Conflict, "version %d of %s is routed to by alias %q; move the alias first", n, f.FQN(), alias)
			}
		}
	}
	f, err = c.reg.Update(ctx, ns, name, func(f *registry.Function) error {
		f.Versions = slices.DeleteFunc(f.Versions, func(v registry.VersionRef) bool { return v.Version == n })
		if f.State == registry.Published && publishedDigest(*f, f.Head.Digest) == 0 {
			f.State = registry.Latest
		}
		return nil
	})
	if err != nil {
		return err
	}
	_, base := registry.ActionPath(ns, name)
	docNS, _ := registry.ActionPath(ns, name)
	if err := c.ow.Delete(ctx, docNS+"/"+base+"@"+strconv.Itoa(n)); err != nil {
		return err
	}
	if err := c.syncAnnotations(ctx, f); err != nil {
		return err
	}
	return c.audit(ctx, f, started, registry.History{Op: "version-retire", From: from, Version: n})
}

// SetAlias creates or moves alias to the given weighted routing.
func (c *Controller) SetAlias(ctx context.Context, ns, name, alias string, routing []registry.Route) (registry.Alias, error) {
	if err := ValidateAlias(alias); err != nil {
		return registry.Alias{}, err
	}
	defer Lock(ns, name)()
	f, err := c.reg.GetFunction(ctx, ns, name)
	if err != nil {
		return registry.Alias{}, err
	}
	if err := writable(f, "set alias"); err != nil {
		return registry.Alias{}, err
	}
	if err := validRouting(f, routing); err != nil {
		return registry.Alias{}, err
	}
	if err := c.claimable(ctx, f, alias); err != nil {
		return registry.Alias{}, err
	}
	al := registry.Alias{Routing: routing, Updated: c.now().UTC()}
	f, err = c.reg.Update(ctx, ns, name, func(f *registry.Function) error {
		if f.Aliases == nil {
			f.Aliases = map[string]registry.Alias{}
		}
		f.Aliases[alias] = al
		return nil
	})
	if err != nil {
		return registry.Alias{}, err
	}
	if err := c.writeManaged(ctx, f, alias); err != nil {
		return registry.Alias{}, err
	}
	return al, c.audit(ctx, f, al.Updated, registry.History{Op: "alias", Alias: alias, Version: routing[0].Version, Routing: routing})
}

// DeleteAlias removes alias and its OpenWhisk action.
func (c *Controller) DeleteAlias(ctx context.Context, ns, name, alias string) error {
	defer Lock(ns, name)()
	f, err := c.reg.GetFunction(ctx, ns, name)
	if err != nil {
		return err
	}
	if f.State == registry.Updating {
		return writable(f, "delete alias")
	}
	if _, ok := f.Aliases[alias]; !ok {
		return reqerr.New(reqerr.NotFound, "function %s has no alias %q", f.FQN(), alias)
	}
	started := c.now().UTC()
	// The action goes first: a crash in between leaves an alias the
	// registry still names (restored, and removed by a retry), never an
	// action fnmgr wrote that no record claims (claimable would refuse to
	// set the alias again).
	docNS, base := registry.ActionPath(ns, name)
	if err := c.ow.Delete(ctx, docNS+"/"+base+"@"+alias); err != nil {
		return err
	}
	if f, err = c.reg.Update(ctx, ns, name, func(f *registry.Function) error {
		delete(f.Aliases, alias)
		return nil
	}); err != nil {
		return err
	}
	return c.audit(ctx, f, started, registry.History{Op: "alias-delete", Alias: alias})
}

// claimable checks that fnmgr may write the OpenWhisk action
// name@suffix of f: no such action exists, or f's registry document
// records suffix as one of its versions or aliases (fnmgr records it
// before it writes the action, so the action is fnmgr's; a user's change
// of it is reverted). "@" is allowed in OpenWhisk names, so anything else
// is a user's own action, even with fnmgr's annotations copied onto it:
// ErrConflict (409) names it.
func (c *Controller) claimable(ctx context.Context, f registry.Function, suffix string) error {
	docNS, base := registry.ActionPath(f.Namespace, f.Name)
	cur, err := c.ow.Get(ctx, docNS+"/"+base+"@"+suffix)
	if errors.Is(err, whiskdb.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("versions: read %s/%s@%s: %w", docNS, base, suffix, err)
	}
	if managedSuffix(f, suffix) {
		return nil
	}
	return reqerr.New(reqerr.Conflict, "the action %s exists and fnmgr did not write it (a user's own action named like a version or alias of %s); rename or delete it first",
		cur.FQN(), f.FQN())
}

func validRouting(f registry.Function, routing []registry.Route) error {
	if len(routing) == 0 {
		return reqerr.New(reqerr.Invalid, "an alias needs a version or a routing of at least one version")
	}
	seen := map[int]bool{}
	total := 0
	for _, r := range routing {
		if _, ok := f.Version(r.Version); !ok {
			return reqerr.Field("version", "%d of %s does not exist", r.Version, f.FQN())
		}
		if seen[r.Version] {
			return reqerr.Field("version", "%d appears twice in the routing", r.Version)
		}
		seen[r.Version] = true
		if r.Weight < 0 || r.Weight > 100 {
			return reqerr.Field("weight", "%d of version %d is outside 0..100", r.Weight, r.Version)
		}
		total += r.Weight
	}
	if len(routing) > 1 && total != 100 {
		return reqerr.Field("routing", "weights add up to %d; they must add up to 100", total)
	}
	return nil
}

// aliasPattern is an alias: a plain OpenWhisk name segment without '@'
// (name@alias is split at its last '@'), '&' or spaces.
var aliasPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)

// ValidateAlias checks an alias name: an OpenWhisk entity name that is not
// a number (numbers name versions).
func ValidateAlias(alias string) error {
	if _, err := strconv.Atoi(alias); err == nil {
		return reqerr.Field("alias", "%q is a number; numbers name versions", alias)
	}
	if !aliasPattern.MatchString(alias) {
		return reqerr.Field("alias", "%q must be 1-64 characters of letters, digits, '_', '-' or '.', starting with a letter, digit or '_'", alias)
	}
	return nil
}

// Rollback makes the head of ns/name the code and limits of version n. The
// change is written to OpenWhisk and recorded as a revision like any other.
func (c *Controller) Rollback(ctx context.Context, ns, name string, n int) (registry.Version, error) {
	defer Lock(ns, name)()
	f, err := c.reg.GetFunction(ctx, ns, name)
	if err != nil {
		return registry.Version{}, err
	}
	if err := writable(f, "rollback"); err != nil {
		return registry.Version{}, err
	}
	if f.State == registry.Blocked {
		return registry.Version{}, reqerr.New(reqerr.Conflict, "rollback: function %s is BLOCKED; unblock it first", f.FQN())
	}
	if _, ok := f.Version(n); !ok {
		return registry.Version{}, reqerr.New(reqerr.NotFound, "function %s has no version %d", f.FQN(), n)
	}
	started := c.now().UTC()
	v, err := c.reg.GetVersion(ctx, ns, name, n)
	if err != nil {
		return registry.Version{}, err
	}
	if c.limits != nil && v.Snapshot.Exec.Kind != entity.KindSequence {
		// A version published under wider limits (another deployment, a
		// namespace limit lowered since) is not written back as is.
		l := v.Snapshot.Limits
		if err := c.limits.CheckLimits(ctx, ns, &l.Memory, &l.Timeout, &l.Logs,
			func(f string) string { return fmt.Sprintf("version %d's limits.%s", n, f) }); err != nil {
			return registry.Version{}, fmt.Errorf("rollback: %w", err)
		}
	}
	code, err := c.code(ctx, v.Snapshot)
	if err != nil {
		return registry.Version{}, err
	}
	docid := registry.DocID(ns, name)
	for attempt := 0; ; attempt++ {
		cur, err := c.ow.Get(ctx, docid)
		if err != nil {
			return registry.Version{}, fmt.Errorf("rollback %s: %w", f.FQN(), err)
		}
		next := actionFrom(ns, name, cur.Name, v.Snapshot)
		next.DocMeta = entity.DocMeta{ID: cur.ID, Rev: cur.Rev}
		next.Version, next.Publish, next.Updated = cur.Version, cur.Publish, c.now().UnixMilli()
		next.Parameters, next.Annotations = cur.Parameters, cur.Annotations
		_, err = c.ow.Put(ctx, next, code)
		if err == nil {
			break
		}
		if !errors.Is(err, whiskdb.ErrConflict) || attempt > 10 {
			return registry.Version{}, fmt.Errorf("rollback %s: %w", f.FQN(), err)
		}
	}
	c.log.InfoContext(ctx, "rolled back", "function", f.FQN(), "version", n)
	// The head the rollback wrote is recorded by the change feed as the
	// next revision; the entry names the version it came from.
	return v, c.audit(ctx, f, started, registry.History{Op: "rollback", Version: n})
}
