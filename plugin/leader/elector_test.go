package leader

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// memStore is the lease document in memory, with CouchDB's revision check.
type memStore struct {
	mu   sync.Mutex
	l    *Lease
	n    int
	fail error // every call fails with it when set
}

func (s *memStore) Get(context.Context) (Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return Lease{}, s.fail
	}
	if s.l == nil {
		return Lease{}, ErrNotFound
	}
	return *s.l, nil
}

func (s *memStore) Put(_ context.Context, l Lease) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return "", s.fail
	}
	cur := ""
	if s.l != nil {
		cur = s.l.Rev
	}
	if l.Rev != cur {
		return "", ErrConflict
	}
	s.n++
	l.Rev = strconv.Itoa(s.n)
	s.l = &l
	return l.Rev, nil
}

// clock is a fake monotonic clock shared by the replicas of a test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

const (
	ttl   = 5 * time.Second
	renew = time.Second
	skew  = time.Second
)

func newElector(t *testing.T, s Store, c *clock, id string) *Elector {
	t.Helper()
	e, err := New(Options{Store: s, ID: id, Admin: "http://" + id, TTL: ttl, Renew: renew, Skew: skew, Now: c.Now})
	require.NoError(t, err)
	return e
}

func leaderOf(t *testing.T, e *Elector) string {
	t.Helper()
	i, err := e.Leader()
	if errors.Is(err, ErrNoLeader) {
		return ""
	}
	require.NoError(t, err)
	return i.ID
}

// TestElection walks two or three replicas through the cases the election
// must get right, one named step at a time on a shared fake clock.
func TestElection(t *testing.T) {
	ctx := context.Background()

	t.Run("the first replica leads at once; the second follows", func(t *testing.T) {
		s, c := &memStore{}, &clock{now: time.Unix(0, 0)}
		a, b := newElector(t, s, c, "a"), newElector(t, s, c, "b")
		require.NoError(t, a.tick(ctx))
		require.NoError(t, b.tick(ctx))
		require.NoError(t, a.Check())
		require.ErrorIs(t, b.Check(), ErrNotLeader)
		require.Equal(t, "a", leaderOf(t, a))
		require.Equal(t, "a", leaderOf(t, b))
		require.EqualValues(t, 1, s.l.Epoch)
		select {
		case <-a.Elected():
		default:
			t.Fatal("Elected not closed")
		}
	})

	t.Run("a renewing leader keeps the lead however long it runs", func(t *testing.T) {
		s, c := &memStore{}, &clock{now: time.Unix(0, 0)}
		a, b := newElector(t, s, c, "a"), newElector(t, s, c, "b")
		require.NoError(t, a.tick(ctx))
		for range 30 {
			c.add(renew)
			require.NoError(t, a.tick(ctx))
			require.NoError(t, b.tick(ctx))
		}
		require.NoError(t, a.Check())
		require.ErrorIs(t, b.Check(), ErrNotLeader)
		require.EqualValues(t, 1, s.l.Epoch)
	})

	t.Run("a dead leader is replaced after the TTL, not before", func(t *testing.T) {
		s, c := &memStore{}, &clock{now: time.Unix(0, 0)}
		a, b := newElector(t, s, c, "a"), newElector(t, s, c, "b")
		require.NoError(t, a.tick(ctx))
		require.NoError(t, b.tick(ctx)) // b sees a's lease now
		for elapsed := renew; elapsed < ttl; elapsed += renew {
			c.add(renew)
			require.NoError(t, b.tick(ctx))
			require.ErrorIs(t, b.Check(), ErrNotLeader, "taken %v after the last renewal", elapsed)
		}
		c.add(renew)
		require.NoError(t, b.tick(ctx))
		require.NoError(t, b.Check())
		require.EqualValues(t, 2, s.l.Epoch)
		require.Equal(t, "b", s.l.Holder)
	})

	t.Run("a paused leader is fenced before its lease can be taken, and loses on resume", func(t *testing.T) {
		s, c := &memStore{}, &clock{now: time.Unix(0, 0)}
		a, b := newElector(t, s, c, "a"), newElector(t, s, c, "b")
		require.NoError(t, a.tick(ctx))
		require.NoError(t, b.tick(ctx))
		// a stops (SIGSTOP): no tick runs. Its writes stop at TTL-Skew,
		// before b may take the lease at TTL.
		c.add(ttl - skew)
		require.ErrorIs(t, a.Check(), ErrNotLeader, "a must stop writing at TTL-Skew")
		require.NoError(t, b.tick(ctx))
		require.ErrorIs(t, b.Check(), ErrNotLeader, "b must not lead before the TTL")
		c.add(skew)
		require.NoError(t, b.tick(ctx))
		require.NoError(t, b.Check())
		// a resumes: its check still fails, its next tick reports the loss
		// and it never writes the lease again.
		require.ErrorIs(t, a.Check(), ErrNotLeader)
		require.ErrorIs(t, a.tick(ctx), ErrLost)
		require.ErrorIs(t, a.tick(ctx), ErrLost)
		require.Equal(t, "b", s.l.Holder)
		require.Equal(t, "b", leaderOf(t, b))
	})

	t.Run("a leader whose renewal conflicts loses at once", func(t *testing.T) {
		s, c := &memStore{}, &clock{now: time.Unix(0, 0)}
		a := newElector(t, s, c, "a")
		require.NoError(t, a.tick(ctx))
		s.mu.Lock()
		s.n++
		s.l.Rev, s.l.Holder, s.l.Epoch = strconv.Itoa(s.n), "x", 9
		s.mu.Unlock()
		c.add(renew)
		require.ErrorIs(t, a.tick(ctx), ErrLost)
		require.ErrorIs(t, a.Check(), ErrNotLeader)
	})

	t.Run("a leader whose renewals fail stops writing at its deadline, and leads again when one lands untaken", func(t *testing.T) {
		s, c := &memStore{}, &clock{now: time.Unix(0, 0)}
		a := newElector(t, s, c, "a")
		require.NoError(t, a.tick(ctx))
		s.fail = errors.New("CouchDB too slow")
		c.add(renew)
		require.NoError(t, a.tick(ctx))
		require.NoError(t, a.Check(), "before its deadline it still writes")
		c.add(ttl - skew - renew)
		require.NoError(t, a.tick(ctx))
		require.ErrorIs(t, a.Check(), ErrNotLeader, "past its deadline it writes nothing")
		s.fail = nil
		c.add(renew)
		require.NoError(t, a.tick(ctx))
		require.NoError(t, a.Check(), "nobody took the lease: the renewal landed")
		require.EqualValues(t, 1, s.l.Epoch)
	})

	t.Run("a leader whose renewals fail loses when another replica took the lease meanwhile", func(t *testing.T) {
		s, c := &memStore{}, &clock{now: time.Unix(0, 0)}
		a, b := newElector(t, s, c, "a"), newElector(t, s, c, "b")
		require.NoError(t, a.tick(ctx))
		require.NoError(t, b.tick(ctx))
		c.add(ttl) // a's renewals did not land (a partition between a and CouchDB)
		require.ErrorIs(t, a.Check(), ErrNotLeader)
		require.NoError(t, b.tick(ctx))
		require.NoError(t, b.Check())
		require.ErrorIs(t, a.tick(ctx), ErrLost)
		require.ErrorIs(t, a.Check(), ErrNotLeader)
	})

	t.Run("a restarted replica retakes its own lease at once with a new epoch", func(t *testing.T) {
		s, c := &memStore{}, &clock{now: time.Unix(0, 0)}
		require.NoError(t, newElector(t, s, c, "a").tick(ctx))
		a2 := newElector(t, s, c, "a")
		require.NoError(t, a2.tick(ctx))
		require.NoError(t, a2.Check())
		require.EqualValues(t, 2, s.l.Epoch)
	})

	t.Run("a released lease is taken at once, and the releaser writes no more", func(t *testing.T) {
		s, c := &memStore{}, &clock{now: time.Unix(0, 0)}
		a, b := newElector(t, s, c, "a"), newElector(t, s, c, "b")
		require.NoError(t, a.tick(ctx))
		require.NoError(t, b.tick(ctx))
		require.NoError(t, a.Release(ctx))
		require.ErrorIs(t, a.Check(), ErrNotLeader)
		require.NoError(t, b.tick(ctx))
		require.NoError(t, b.Check())
		require.ErrorIs(t, a.tick(ctx), ErrLost, "a released lease is not campaigned for again")
	})

	t.Run("two followers race for an expired lease: one wins", func(t *testing.T) {
		s, c := &memStore{}, &clock{now: time.Unix(0, 0)}
		a := newElector(t, s, c, "a")
		b, d := newElector(t, s, c, "b"), newElector(t, s, c, "d")
		require.NoError(t, a.tick(ctx))
		require.NoError(t, b.tick(ctx))
		require.NoError(t, d.tick(ctx))
		c.add(ttl)
		require.NoError(t, b.tick(ctx))
		require.NoError(t, d.tick(ctx))
		require.NoError(t, b.Check())
		require.ErrorIs(t, d.Check(), ErrNotLeader)
		c.add(renew)
		require.NoError(t, d.tick(ctx))
		require.Equal(t, "b", leaderOf(t, d))
	})
}

func TestNewRejectsALeaseTooShortToRenew(t *testing.T) {
	_, err := New(Options{Store: &memStore{}, ID: "a", TTL: 2 * time.Second, Renew: time.Second, Skew: time.Second})
	require.Error(t, err)
}
