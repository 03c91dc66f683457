package consumer

import "time"

// Reconnect backoff: the first wait after a failed session, the cap, and
// how long a session must have held its partitions to count as healthy.
const (
	backoffMin   = 200 * time.Millisecond
	backoffMax   = 2 * time.Second
	healthyAfter = 10 * time.Second // a whole session timeout of good heartbeats
)

// backoff is the wait before rejoining after a session ended. It doubles
// while sessions keep failing, up to ceil, and starts from first again after
// a healthy session (one that held its partitions for healthyAfter or
// more), so that a rejoin after a long healthy run is quick. Not safe for
// concurrent use: Run owns it.
type backoff struct {
	first, ceil, healthyAfter time.Duration
	cur                       time.Duration // 0: first
}

// next returns the wait after a session that held its partitions for
// held (0: it never joined), and advances the backoff.
func (b *backoff) next(held time.Duration) time.Duration {
	if b.cur == 0 || held >= b.healthyAfter {
		b.cur = b.first
	}
	d := b.cur
	b.cur = min(b.cur*2, b.ceil)
	return d
}
