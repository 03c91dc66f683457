package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DocID is the lease document's id in the registry database. The
// registry's own documents have other prefixes ("f:", "r:", …), so readers
// of the registry's change feed skip it.
const DocID = "lease:leader"

// Errors.
var (
	// ErrNotFound: the store has no lease document yet.
	ErrNotFound = errors.New("leader: no lease")
	// ErrConflict: the lease changed since the revision given.
	ErrConflict = errors.New("leader: the lease changed meanwhile")
	// ErrNotLeader: this replica does not hold the lease (or its deadline
	// passed); writes are refused.
	ErrNotLeader = errors.New("leader: this replica does not hold the lease")
	// ErrNoLeader: no replica is known to hold the lease now.
	ErrNoLeader = errors.New("leader: no replica holds the lease")
	// ErrLost: this replica held the lease and lost it.
	ErrLost = errors.New("leader: lost the lease")
)

// Lease is the lease document.
type Lease struct {
	ID     string `json:"_id"`
	Rev    string `json:"_rev,omitempty"`
	Type   string `json:"type"`
	Holder string `json:"holder"` // "" when released
	// Admin is the holder's admin URL, where followers forward writes.
	Admin string `json:"admin,omitempty"`
	// Epoch grows by one with every acquisition.
	Epoch int64 `json:"epoch"`
	TTLms int64 `json:"ttl_ms"`
	// Renewed is the holder's wall clock at the renewal, for people only:
	// no replica compares it with its own clock.
	Renewed time.Time `json:"renewed"`
}

// Store reads and writes the lease document.
type Store interface {
	// Get returns the lease, or ErrNotFound.
	Get(ctx context.Context) (Lease, error)
	// Put writes l when l.Rev is the current revision (or l.Rev is empty
	// and there is none) and returns the new revision; otherwise it fails
	// with ErrConflict.
	Put(ctx context.Context, l Lease) (string, error)
}

// Info names the leader.
type Info struct {
	ID    string `json:"id"`
	Admin string `json:"admin"`
	Epoch int64  `json:"epoch"`
}

// Options configures an Elector.
type Options struct {
	Store Store
	// ID is this replica's id; Admin its admin URL.
	ID, Admin string
	// TTL, Renew and Skew: see the package doc. Renew is also how often a
	// follower reads the lease.
	TTL, Renew, Skew time.Duration
	Logger           *slog.Logger
	// Registerer takes the metrics; none when nil.
	Registerer prometheus.Registerer
	// Now is the clock (time.Now when nil); it must carry monotonic readings.
	Now func() time.Time
}

// Elector campaigns for the lease, renews it while it holds it, and
// answers the fencing check.
type Elector struct {
	o       Options
	log     *slog.Logger
	m       metrics
	elected chan struct{}

	mu       sync.Mutex
	leading  bool
	deadline time.Time // leading only: writes stop at this instant
	seen     Lease     // the lease as last read or written
	seenAt   time.Time // when seen.Rev was first observed
	lost     bool
	known    bool // the lease was read (or taken) at least once
	admin    string
}

// New returns an Elector; it contacts nothing until Run.
func New(o Options) (*Elector, error) {
	if o.Store == nil || o.ID == "" {
		return nil, errors.New("leader: Options.Store and Options.ID are required")
	}
	if o.TTL <= 0 || o.Renew <= 0 || o.Skew < 0 || 2*o.Renew+o.Skew > o.TTL {
		return nil, fmt.Errorf("leader: the lease TTL %v must be at least twice the renewal %v plus the skew %v", o.TTL, o.Renew, o.Skew)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	return &Elector{o: o, log: o.Logger.With("component", "leader", "replica", o.ID), m: m, elected: make(chan struct{}), admin: o.Admin}, nil
}

// Run campaigns and, once elected, renews the lease every Renew until ctx
// ends (nil) or the lease is lost (ErrLost). A replica that lost the lead
// stops: see the package doc.
func (e *Elector) Run(ctx context.Context) error {
	t := time.NewTicker(e.o.Renew)
	defer t.Stop()
	for {
		if err := e.tick(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// tick renews the lease when leading, and otherwise reads it and takes it
// when it is free or expired.
func (e *Elector) tick(ctx context.Context) error {
	e.mu.Lock()
	leading, lost := e.leading, e.lost
	e.mu.Unlock()
	switch {
	case lost:
		return ErrLost
	case leading:
		return e.renew(ctx)
	}
	e.observe(ctx)
	return nil
}

// Elected is closed when this replica first becomes the leader.
func (e *Elector) Elected() <-chan struct{} { return e.elected }

// Check is the fencing check: nil only while this replica holds the lease
// and its deadline has not passed. Every write a replica makes asks it
// right before the write.
func (e *Elector) Check() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.leading || !e.o.Now().Before(e.deadline) {
		return fmt.Errorf("%w (epoch %d)", ErrNotLeader, e.seen.Epoch)
	}
	return nil
}

// SetAdmin sets this replica's admin URL, written into the lease when it
// next takes it (before Run, once the admin server's port is known).
func (e *Elector) SetAdmin(u string) {
	e.mu.Lock()
	e.admin = u
	e.mu.Unlock()
}

// Known reports whether the lease has been read (or taken) at least once:
// until then this replica knows neither whether it leads nor who does.
func (e *Elector) Known() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.known
}

// Leading reports whether this replica holds the lease now.
func (e *Elector) Leading() bool { return e.Check() == nil }

// LeadingEpoch is the lease's epoch while this replica holds the lease
// (Check passes), and 0 otherwise: what a cache of the registry kept only
// by its one writer is keyed by (registry.Store.CacheWhile).
func (e *Elector) LeadingEpoch() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.leading || !e.o.Now().Before(e.deadline) {
		return 0
	}
	return e.seen.Epoch
}

// Leader names the replica that holds the lease, as far as this replica
// knows: itself while leading, otherwise the holder of the lease it last
// read, unless that lease is released or has expired.
func (e *Elector) Leader() (Info, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.leading && e.o.Now().Before(e.deadline) {
		return Info{ID: e.o.ID, Admin: e.admin, Epoch: e.seen.Epoch}, nil
	}
	if e.leading || e.seen.Holder == "" || e.o.Now().Sub(e.seenAt) >= e.o.TTL {
		return Info{}, ErrNoLeader
	}
	return Info{ID: e.seen.Holder, Admin: e.seen.Admin, Epoch: e.seen.Epoch}, nil
}

// Release gives the lease up at once, so that another replica takes over
// without waiting for it to expire (on a graceful stop). Writes are
// refused from the moment it is called.
func (e *Elector) Release(ctx context.Context) error {
	e.mu.Lock()
	if !e.leading {
		e.mu.Unlock()
		return nil
	}
	// A released lease is not campaigned for again by this Elector.
	e.leading, e.deadline, e.lost = false, time.Time{}, true
	l := e.seen
	e.mu.Unlock()
	e.m.isLeader.Set(0)
	l.Holder, l.Admin, l.Renewed = "", "", time.Now().UTC()
	if _, err := e.o.Store.Put(ctx, l); err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("leader: release the lease: %w", err)
	}
	e.log.Info("released the lease", "epoch", l.Epoch)
	return nil
}
