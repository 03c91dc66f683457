package gateway

import (
	"fmt"
	"net/url"
	"sync/atomic"
)

// Upstream is one controller.
type Upstream struct {
	// URL is the controller's base URL.
	URL *url.URL
	// Name labels the controller in metrics and logs (its host:port).
	Name string
	// healthy is what health checks set; every controller starts healthy.
	healthy atomic.Bool
}

// Healthy reports whether the controller takes requests.
func (u *Upstream) Healthy() bool { return u.healthy.Load() }

// SetHealthy marks the controller healthy or not; unhealthy controllers
// get no requests while another is healthy.
func (u *Upstream) SetHealthy(ok bool) { u.healthy.Store(ok) }

// upstreamSet is an immutable list of controllers with a round-robin
// cursor. The gateway swaps whole sets; a set is never edited.
type upstreamSet struct {
	list []*Upstream
	next atomic.Uint64
}

func newUpstreamSet(urls []*url.URL, old *upstreamSet) (*upstreamSet, error) {
	s := &upstreamSet{}
	seen := map[string]bool{}
	for _, u := range urls {
		if u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("gateway: controller URL %v is not an absolute http(s) URL", u)
		}
		key := u.String()
		if seen[key] {
			return nil, fmt.Errorf("gateway: controller %s is listed twice", u.Redacted())
		}
		seen[key] = true
		// Keep the Upstream (and its health) of a controller that stays.
		if up := old.find(key); up != nil {
			s.list = append(s.list, up)
			continue
		}
		c := *u
		up := &Upstream{URL: &c, Name: u.Host}
		up.healthy.Store(true)
		s.list = append(s.list, up)
	}
	return s, nil
}

func (s *upstreamSet) find(key string) *Upstream {
	if s == nil {
		return nil
	}
	for _, up := range s.list {
		if up.URL.String() == key {
			return up
		}
	}
	return nil
}

// pick returns the next healthy controller in round-robin order, or nil
// when none is healthy.
func (s *upstreamSet) pick() *Upstream {
	n := uint64(len(s.list))
	if n == 0 {
		return nil
	}
	start := s.next.Add(1) - 1
	for i := range n {
		if up := s.list[(start+i)%n]; up.Healthy() {
			return up
		}
	}
	return nil
}
