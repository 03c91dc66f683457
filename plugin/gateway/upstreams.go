package gateway

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Reasons a controller is unhealthy; they label the ejections metric and
// show in the admin API. A fixed set: never error text.
const (
	ReasonHealthCheck     = "health_check"     // GET / failed or timed out
	ReasonConnectionError = "connection_error" // a proxied request met a transport error
	ReasonUnavailable     = "unavailable"      // the controller answered 503
	ReasonManual          = "manual"           // SetHealthy(false)
)

// Upstream is one controller.
type Upstream struct {
	// URL is the controller's base URL.
	URL *url.URL
	// Name labels the controller in metrics and logs: its host:port, and
	// its base path if it has one.
	Name string

	// base and basePath are URL's escaped and decoded path without the
	// trailing slash ("" for the root), prefixed to every proxied path.
	base, basePath string
	// healthy is what health checks and passive ejection set; every
	// controller starts healthy.
	healthy  atomic.Bool
	inFlight atomic.Int64
	m        upstreamMetrics
	log      *slog.Logger

	mu     sync.Mutex
	since  time.Time // of the last change of health
	reason string    // why it is unhealthy; "" while healthy
	probe  string    // the last health check's outcome, for people
}

// Status is what the admin API shows of a controller.
type Status struct {
	URL     string    `json:"url"`
	Name    string    `json:"name"`
	Healthy bool      `json:"healthy"`
	Since   time.Time `json:"since"`
	// Reason says why the controller is unhealthy: health_check,
	// connection_error (a proxied request failed), unavailable (it answered
	// 503) or manual.
	Reason string `json:"reason,omitempty"`
	// LastCheck is the outcome of the last active health check.
	LastCheck string `json:"lastCheck,omitempty"`
	// InFlight counts the requests on their way to or from it.
	InFlight int64 `json:"inFlight"`
}

func newUpstream(u *url.URL, m *metrics, log *slog.Logger) *Upstream {
	c := *u
	base := strings.TrimRight(u.EscapedPath(), "/")
	up := &Upstream{
		URL:      &c,
		Name:     u.Host + base,
		base:     base,
		basePath: strings.TrimRight(u.Path, "/"),
		log:      log,
		since:    time.Now(),
	}
	up.m = m.forUpstream(up.Name)
	up.healthy.Store(true)
	up.m.healthy.Set(1)
	return up
}

// Healthy reports whether the controller takes requests.
func (u *Upstream) Healthy() bool { return u.healthy.Load() }

// SetHealthy marks the controller healthy or not; unhealthy controllers
// get no requests. Health checks set it back at their next round.
func (u *Upstream) SetHealthy(ok bool) {
	if ok {
		u.markHealthy("")
	} else {
		u.markUnhealthy(ReasonManual)
	}
}

// markUnhealthy ejects the controller. Changes of health are serialized
// by mu so that the fields, the gauge and the flag agree; pick reads the
// flag alone, without locking.
func (u *Upstream) markUnhealthy(reason string) {
	u.mu.Lock()
	changed := u.healthy.CompareAndSwap(true, false)
	if changed {
		u.since, u.reason = time.Now(), reason
		u.m.healthy.Set(0)
		u.m.ejected(reason)
	}
	u.mu.Unlock()
	if changed {
		u.log.Warn("controller ejected: it gets no requests until a health check passes",
			"controller", u.Name, "reason", reason)
	}
}

// markHealthy admits the controller again after probe (a health check's
// outcome, "" when set by hand).
func (u *Upstream) markHealthy(probe string) {
	u.mu.Lock()
	if probe != "" {
		u.probe = probe
	}
	changed := u.healthy.CompareAndSwap(false, true)
	if changed {
		u.since, u.reason = time.Now(), ""
		u.m.healthy.Set(1)
	}
	u.mu.Unlock()
	if changed {
		u.log.Info("controller healthy again", "controller", u.Name)
	}
}

// checked records a failed health check's outcome and ejects.
func (u *Upstream) checked(outcome string) {
	u.mu.Lock()
	u.probe = outcome
	u.mu.Unlock()
	u.markUnhealthy(ReasonHealthCheck)
}

// status is u as the admin API shows it.
func (u *Upstream) status() Status {
	u.mu.Lock()
	defer u.mu.Unlock()
	return Status{URL: u.URL.Redacted(), Name: u.Name, Healthy: u.Healthy(), Since: u.since,
		Reason: u.reason, LastCheck: u.probe, InFlight: u.inFlight.Load()}
}

// target returns the URL a request for the escaped path rawPath (with its
// decoded form path) goes to on this controller.
func (u *Upstream) target(path, rawPath, rawQuery string) url.URL {
	t := url.URL{Scheme: u.URL.Scheme, Host: u.URL.Host, Path: path, RawPath: rawPath, RawQuery: rawQuery}
	if u.base != "" {
		t.Path = u.basePath + path
		if rawPath == "" {
			rawPath = path
		}
		t.RawPath = u.base + rawPath
		if t.RawPath == t.Path {
			t.RawPath = ""
		}
	}
	return t
}

// upstreamSet is an immutable list of controllers with a round-robin
// cursor. The gateway swaps whole sets; a set is never edited.
type upstreamSet struct {
	list []*Upstream
	next atomic.Uint64
}

// key identifies a controller URL in a set.
func key(u *url.URL) string { return strings.TrimRight(u.String(), "/") }

// checkURL refuses what cannot be a controller's base URL.
func checkURL(u *url.URL) error {
	if u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: %v is not an absolute http(s) URL without query", ErrInvalidController, redacted(u))
	}
	return nil
}

func redacted(u *url.URL) string {
	if u == nil {
		return "<nil>"
	}
	return u.Redacted()
}

func (s *upstreamSet) find(k string) *Upstream {
	if s == nil {
		return nil
	}
	for _, up := range s.list {
		if key(up.URL) == k {
			return up
		}
	}
	return nil
}

// pick returns the next healthy controller in round-robin order that is
// not in tried, or nil when there is none.
func (s *upstreamSet) pick(tried []*Upstream) *Upstream {
	n := uint64(len(s.list))
	if n == 0 {
		return nil
	}
	start := s.next.Add(1) - 1
	for i := range n {
		up := s.list[(start+i)%n]
		if up.Healthy() && !contains(tried, up) {
			return up
		}
	}
	return nil
}

func contains(list []*Upstream, up *Upstream) bool {
	for _, u := range list {
		if u == up {
			return true
		}
	}
	return false
}
