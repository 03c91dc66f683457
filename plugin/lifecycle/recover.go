package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/versions"
)

func cutPackage(name string) (pkg, rest string, ok bool) { return strings.Cut(name, "/") }

// Recover finishes or undoes every transition a crash left half done:
// block, unblock and retire are finished (their target state was recorded
// with the intent), an update is undone unless its new code had already
// reached OpenWhisk, a purge is run again. Call it once at start, after the
// change feed has caught up.
func (c *Controller) Recover(ctx context.Context) error {
	var pending []registry.Function
	if err := c.reg.Functions(ctx, "", func(f registry.Function) error {
		if f.Transition != nil {
			pending = append(pending, f)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("lifecycle: recover: %w", err)
	}
	var errs []error
	for _, f := range pending {
		if err := c.recoverOne(ctx, f); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// recoverStranded finishes, as Recover does, the transitions whose intent
// is recorded but that no operation of this process carries out any more:
// those that ended in an error half done (carry).
func (c *Controller) recoverStranded(ctx context.Context) error {
	var pending []registry.Function
	if err := c.reg.Functions(ctx, "", func(f registry.Function) error {
		if f.Transition != nil && !c.carried(f.ID) {
			pending = append(pending, f)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("lifecycle: recover: %w", err)
	}
	var errs []error
	for _, f := range pending {
		errs = append(errs, c.recoverOne(ctx, f))
	}
	return errors.Join(errs...)
}

func (c *Controller) recoverOne(ctx context.Context, f registry.Function) error {
	defer versions.Lock(f.Namespace, f.Name)()
	// Under the lock, the intent as it is now: an operation of this
	// process may have ended it, or still carry it out (an update's test
	// runs without the lock).
	cur, err := c.reg.GetFunction(ctx, f.Namespace, f.Name)
	if err != nil {
		return err
	}
	if cur.Transition == nil || !cur.Transition.Started.Equal(f.Transition.Started) || c.carried(cur.ID) {
		return nil
	}
	f = cur
	if err := c.finishOne(ctx, f); err != nil {
		return err
	}
	if f.Transition.Op == "purge" {
		return nil
	}
	// The crash may have fallen between a write and its cache invalidation;
	// the write is not repeated (the document is already right), so the
	// controllers are told here, or they keep serving what they cached.
	f, err = c.reg.GetFunction(ctx, f.Namespace, f.Name)
	if err != nil {
		return err
	}
	return c.ver.Invalidate(ctx, f)
}

func (c *Controller) finishOne(ctx context.Context, f registry.Function) error {
	t := f.Transition
	c.log.Warn("finishing a transition interrupted by a restart", "function", f.FQN(), "op", t.Op, "from", t.From, "to", t.To)
	switch t.Op {
	case "update":
		// Whatever reached OpenWhisk is recorded; the function runs again.
		if err := c.ver.SyncApplied(ctx, f.Namespace, f.Name); err != nil {
			return err
		}
		f, err := c.reg.Update(ctx, f.Namespace, f.Name, func(f *registry.Function) error {
			f.State = runnableState(*f)
			f.Transition.To = f.State
			return nil
		})
		if err != nil {
			return err
		}
		docNS, base := registry.ActionPath(f.Namespace, f.Name)
		_ = c.ver.DeleteAction(ctx, docNS+"/"+base+"@"+probeSuffix)
		_, err = c.finish(ctx, f, f.State, "update interrupted by a restart of fnmgr", nil)
		return err
	case "purge":
		return c.purge(ctx, f)
	default:
		if err := c.ver.Sync(ctx, f.Namespace, f.Name); err != nil {
			return err
		}
		f, err := c.reg.GetFunction(ctx, f.Namespace, f.Name)
		if err != nil {
			return err
		}
		_, err = c.finish(ctx, f, f.State, "", nil)
		return err
	}
}

// Run purges retired functions when their grace period ends, until ctx
// ends. It sleeps until the earliest purge due (or rescan, at most, every
// interval) and wakes early when a function is retired.
func (c *Controller) Run(ctx context.Context, interval time.Duration) error {
	for {
		retry := false
		if c.stranded.Swap(false) {
			if err := c.recoverStranded(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("finishing a transition that failed half done", "err", err)
				c.stranded.Store(true)
				retry = true
			}
		}
		next, err := c.purgeDue(ctx)
		if err != nil && ctx.Err() == nil {
			c.log.Warn("purge", "err", err)
			next = c.now().Add(min(interval, 5*time.Second))
		}
		if retry && (next.IsZero() || next.After(c.now().Add(time.Second))) {
			next = c.now().Add(time.Second)
		}
		wait := interval
		if !next.IsZero() {
			wait = min(max(next.Sub(c.now()), 10*time.Millisecond), interval)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-c.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// PurgeDue purges every retired function whose grace period has elapsed.
func (c *Controller) PurgeDue(ctx context.Context) error {
	_, err := c.purgeDue(ctx)
	return err
}

// purgeDue purges what is due and returns when the next purge is due (zero
// when none is pending).
func (c *Controller) purgeDue(ctx context.Context) (time.Time, error) {
	now := c.now()
	var due []registry.Function
	var next time.Time
	if err := c.reg.Functions(ctx, "", func(f registry.Function) error {
		if f.State != registry.Retired || f.Purged || f.Transition != nil || f.PurgeAt == nil {
			return nil
		}
		if !now.Before(*f.PurgeAt) {
			due = append(due, f)
		} else if next.IsZero() || f.PurgeAt.Before(next) {
			next = *f.PurgeAt
		}
		return nil
	}); err != nil {
		return time.Time{}, err
	}
	var errs []error
	for _, f := range due {
		func() {
			defer versions.Lock(f.Namespace, f.Name)()
			f, err := c.begin(ctx, f, registry.Transition{Op: "purge", From: registry.Retired, To: registry.Retired, By: "fnmgr",
				Reason: "grace period elapsed"}, func(*registry.Function) {})
			if err == nil {
				err = c.purge(ctx, f)
			}
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	return next, errors.Join(errs...)
}
