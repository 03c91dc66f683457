package leader

import (
	"context"
	"errors"
	"time"
)

// observe reads the lease, notes a new revision, and takes the lease when
// it is missing, released, this replica's own (from before a restart), or
// unchanged for TTL.
func (e *Elector) observe(ctx context.Context) {
	l, err := e.o.Store.Get(ctx)
	switch {
	case errors.Is(err, ErrNotFound):
		e.acquire(ctx, Lease{ID: DocID})
		return
	case err != nil:
		e.log.Warn("read the lease", "err", err)
		return
	}
	now := e.o.Now()
	e.mu.Lock()
	e.known = true
	if l.Rev != e.seen.Rev {
		if l.Holder != e.seen.Holder && l.Holder != "" {
			e.m.changes.Inc()
			e.log.Info("the lead changed", "leader", l.Holder, "epoch", l.Epoch)
		}
		e.seen, e.seenAt = l, now
	}
	free := l.Holder == "" || l.Holder == e.o.ID || now.Sub(e.seenAt) >= e.o.TTL
	e.mu.Unlock()
	if free {
		e.acquire(ctx, l)
	}
}

// acquire writes the lease with this replica as holder and the next epoch,
// on top of revision l.Rev; a conflict means another replica was quicker.
func (e *Elector) acquire(ctx context.Context, l Lease) {
	start := e.o.Now()
	e.mu.Lock()
	admin := e.admin
	e.mu.Unlock()
	n := Lease{ID: DocID, Rev: l.Rev, Type: "lease", Holder: e.o.ID, Admin: admin,
		Epoch: l.Epoch + 1, TTLms: e.o.TTL.Milliseconds(), Renewed: time.Now().UTC()}
	rev, err := e.o.Store.Put(ctx, n)
	if err != nil {
		if !errors.Is(err, ErrConflict) {
			e.log.Warn("take the lease", "err", err)
		}
		return
	}
	n.Rev = rev
	e.mu.Lock()
	e.leading, e.seen, e.seenAt, e.known = true, n, start, true
	e.deadline = start.Add(e.o.TTL - e.o.Skew)
	e.mu.Unlock()
	e.m.isLeader.Set(1)
	e.m.epoch.Set(float64(n.Epoch))
	if l.Holder != e.o.ID {
		e.m.changes.Inc()
	}
	e.log.Info("took the lead", "epoch", n.Epoch, "previous", l.Holder)
	close(e.elected)
}

// renew extends the lease. A conflict means another replica took it: the
// lead is lost at once. Any other failure is tried again on the next tick:
// past the deadline Check refuses every write, but the lease stays this
// replica's until another takes it, so a renewal that lands later (CouchDB
// was slow, not gone) without a conflict makes it lead again. Only a
// conflict can end the lead, and CouchDB's revision check decides it.
func (e *Elector) renew(ctx context.Context) error {
	start := e.o.Now()
	e.mu.Lock()
	n, deadline := e.seen, e.deadline
	e.mu.Unlock()
	n.Renewed = time.Now().UTC()
	rctx, cancel := context.WithTimeout(ctx, e.o.TTL)
	rev, err := e.o.Store.Put(rctx, n)
	cancel()
	if errors.Is(err, ErrConflict) {
		if cur, gerr := e.o.Store.Get(ctx); gerr == nil && cur.Holder == e.o.ID && cur.Epoch == n.Epoch {
			// An earlier renewal landed but its answer was lost.
			e.mu.Lock()
			e.seen.Rev = cur.Rev
			e.mu.Unlock()
			return nil
		}
		return e.lose("another replica took the lease")
	}
	if err != nil {
		e.m.renewFailures.Inc()
		if e.o.Now().Before(deadline) {
			e.log.Warn("renew the lease", "err", err)
		} else {
			e.log.Warn("renew the lease: past its deadline, writes are refused until a renewal lands", "err", err)
		}
		return nil
	}
	e.mu.Lock()
	e.seen.Rev, e.seen.Renewed = rev, n.Renewed
	e.deadline = start.Add(e.o.TTL - e.o.Skew)
	e.mu.Unlock()
	return nil
}

func (e *Elector) lose(why string) error {
	e.mu.Lock()
	e.leading, e.deadline, e.lost = false, time.Time{}, true
	epoch := e.seen.Epoch
	e.mu.Unlock()
	e.m.isLeader.Set(0)
	e.log.Error("lost the lead; this replica stops writing", "why", why, "epoch", epoch)
	return ErrLost
}
