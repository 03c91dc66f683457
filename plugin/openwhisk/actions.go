// Package openwhisk is fnmgr's adapter to a stock OpenWhisk deployment's
// entity store: it reads and writes action documents in the whisks database
// exactly as OpenWhisk does (couch/whiskdb) and, after every write, publishes
// the cache invalidation OpenWhisk's controllers need to drop their cached
// copy (contract: cacheInvalidation topic). It never calls anything a stock
// OpenWhisk does not offer.
package openwhisk

import (
	"context"
	"errors"
	"fmt"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
)

// ErrNotFound and ErrConflict are whiskdb's, re-exported for callers.
var (
	ErrNotFound = whiskdb.ErrNotFound
	ErrConflict = whiskdb.ErrConflict
)

// Invalidator tells OpenWhisk's controllers that an entity changed. It must
// be safe for concurrent use.
type Invalidator interface {
	Invalidate(ctx context.Context, docid string) error
}

// Actions reads and writes OpenWhisk actions.
type Actions struct {
	db  *whiskdb.Store
	inv Invalidator
}

// NewActions returns the adapter over the whisks store and an invalidator.
func NewActions(db *whiskdb.Store, inv Invalidator) *Actions { return &Actions{db: db, inv: inv} }

// Get reads the latest document of action docid.
func (a *Actions) Get(ctx context.Context, docid string) (entity.Action, error) {
	return a.db.GetAction(ctx, docid, "")
}

// GetRev reads revision rev of action docid.
func (a *Actions) GetRev(ctx context.Context, docid, rev string) (entity.Action, error) {
	return a.db.GetAction(ctx, docid, rev)
}

// History lists the revisions of docid up to rev, oldest first.
func (a *Actions) History(ctx context.Context, docid, rev string) ([]string, error) {
	return a.db.RevHistory(ctx, docid, rev)
}

// Code returns the stored bytes of action's code.
func (a *Actions) Code(ctx context.Context, act entity.Action) ([]byte, error) {
	return a.db.ActionCode(ctx, act)
}

// Put writes act with its code as OpenWhisk stores it and invalidates the
// controllers' caches. act.Rev "" creates (or, when the document exists,
// overwrites the latest revision: fnmgr owns such documents).
func (a *Actions) Put(ctx context.Context, act entity.Action, code []byte) (entity.Action, error) {
	ct := entity.TextContentType
	if act.Exec.Binary {
		ct = entity.BinaryContentType
	}
	if act.ID == "" {
		act.ID = act.FQN()
	}
	if act.Rev == "" {
		if cur, err := a.db.GetAction(ctx, act.ID, ""); err == nil {
			act.Rev = cur.Rev
		} else if !errors.Is(err, whiskdb.ErrNotFound) {
			return entity.Action{}, fmt.Errorf("openwhisk: put %s: %w", act.ID, err)
		}
	}
	if code == nil {
		act.Exec.Code = nil
	}
	out, err := a.db.PutAction(ctx, act, code, ct)
	if err != nil {
		return entity.Action{}, fmt.Errorf("openwhisk: put %s: %w", act.ID, err)
	}
	return out, a.invalidate(ctx, act.ID)
}

// Modify re-reads action docid, applies fn and writes the document back as
// it is (attachments kept), retrying on conflicts; fn returning false skips
// the write. Used for changes that leave the code alone (annotations,
// limits).
func (a *Actions) Modify(ctx context.Context, docid string, fn func(*entity.Action) (bool, error)) (entity.Action, error) {
	for attempt := 0; ; attempt++ {
		act, err := a.db.GetAction(ctx, docid, "")
		if err != nil {
			return entity.Action{}, fmt.Errorf("openwhisk: modify %s: %w", docid, err)
		}
		write, err := fn(&act)
		if err != nil || !write {
			return act, err
		}
		rev, err := a.db.Put(ctx, docid, act)
		if err == nil {
			act.Rev = rev
			return act, a.invalidate(ctx, docid)
		}
		if !errors.Is(err, whiskdb.ErrConflict) || attempt > 20 || ctx.Err() != nil {
			return entity.Action{}, fmt.Errorf("openwhisk: modify %s: %w", docid, err)
		}
	}
}

// Delete removes action docid (no error when it is already gone).
func (a *Actions) Delete(ctx context.Context, docid string) error {
	for attempt := 0; ; attempt++ {
		act, err := a.db.GetAction(ctx, docid, "")
		if errors.Is(err, whiskdb.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("openwhisk: delete %s: %w", docid, err)
		}
		err = a.db.DeleteDoc(ctx, docid, act.Rev)
		if err == nil || errors.Is(err, whiskdb.ErrNotFound) {
			return a.invalidate(ctx, docid)
		}
		if !errors.Is(err, whiskdb.ErrConflict) || attempt > 20 {
			return fmt.Errorf("openwhisk: delete %s: %w", docid, err)
		}
	}
}

// Invalidate tells the controllers to drop their cached copy of action
// docid without writing it: a write whose invalidation a crash cut off
// (the document already right, so nothing is written again) still reaches
// the controllers' caches.
func (a *Actions) Invalidate(ctx context.Context, docid string) error {
	return a.invalidate(ctx, docid)
}

func (a *Actions) invalidate(ctx context.Context, docid string) error {
	if a.inv == nil {
		return nil
	}
	if err := a.inv.Invalidate(ctx, docid); err != nil {
		return fmt.Errorf("openwhisk: invalidate %s: %w", docid, err)
	}
	return nil
}
