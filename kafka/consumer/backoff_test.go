package consumer

import (
	"testing"
	"time"
)

// TestBackoff is the reconnect policy: waits double while sessions fail,
// up to the cap, and start over after a session that held its partitions
// for healthyAfter, however long the failures before it lasted.
func TestBackoff(t *testing.T) {
	const ms = time.Millisecond
	type step struct {
		held time.Duration // how long the ended session held its partitions
		wait time.Duration // the wait before rejoining
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"failures double up to the cap", []step{{0, 200 * ms}, {0, 400 * ms}, {0, 800 * ms}, {0, 1600 * ms}, {0, 2000 * ms}, {0, 2000 * ms}}},
		{"a long healthy run resets a capped backoff", []step{{0, 200 * ms}, {0, 400 * ms}, {0, 800 * ms}, {0, 1600 * ms}, {0, 2000 * ms}, {time.Hour, 200 * ms}, {0, 400 * ms}}},
		{"healthy for exactly healthyAfter resets", []step{{0, 200 * ms}, {0, 400 * ms}, {healthyAfter, 200 * ms}}},
		{"a short session does not reset", []step{{0, 200 * ms}, {0, 400 * ms}, {healthyAfter - ms, 800 * ms}, {5 * time.Second, 1600 * ms}}},
		{"every session healthy", []step{{time.Minute, 200 * ms}, {time.Minute, 200 * ms}, {time.Minute, 200 * ms}}},
		{"first session healthy then failures", []step{{time.Minute, 200 * ms}, {0, 400 * ms}, {0, 800 * ms}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := backoff{first: backoffMin, ceil: backoffMax, healthyAfter: healthyAfter}
			for i, s := range c.steps {
				if got := b.next(s.held); got != s.wait {
					t.Fatalf("step %d: after a session held for %v, wait %v, want %v", i, s.held, got, s.wait)
				}
			}
		})
	}
}

// TestHeldFor: a session's hold starts at its first join (Setup), is kept
// across the rebalances of the same session, and is 0 until then.
func TestHeldFor(t *testing.T) {
	g := &Group{}
	now := time.Now()
	if h := g.heldFor(now); h != 0 {
		t.Fatalf("heldFor before joining = %v, want 0", h)
	}
	if err := (handler{g}).Setup(nil); err != nil {
		t.Fatal(err)
	}
	first := g.joinedAt.Load()
	if err := (handler{g}).Setup(nil); err != nil { // a rebalance within the session
		t.Fatal(err)
	}
	if g.joinedAt.Load() != first {
		t.Fatal("a rebalance within a session restarted its hold")
	}
	later := time.Unix(0, first).Add(healthyAfter)
	if h := g.heldFor(later); h != healthyAfter {
		t.Fatalf("heldFor = %v, want %v", h, healthyAfter)
	}
	if !g.Joined() {
		t.Fatal("Setup did not mark the group joined")
	}
}
