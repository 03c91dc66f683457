package admin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/fnmgr/fnmgr/plugin/httpapi"
)

// Leadership is what the admin API knows of the leader election
// (plugin/leader's Elector): every replica serves reads, and only the
// leader carries out writes, which the others forward to it.
type Leadership interface {
	// Leading reports whether this replica holds the lease now.
	Leading() bool
	// Leader names the leader, or fails when none is known now.
	Leader() (LeaderInfo, error)
}

// LeaderInfo names the leader: GET /v1/leader's body.
type LeaderInfo struct {
	ID    string `json:"id"`
	Admin string `json:"admin"`
	// Epoch is the lease's epoch: it grows by one each time a replica
	// takes the lead (a restarted replica too).
	Epoch int64 `json:"epoch,omitempty"`
}

// ForwardedHeader marks a write one replica forwarded to the leader; a
// replica that gets one but does not lead (the lead moved meanwhile)
// answers 503 rather than forward it again.
const ForwardedHeader = "X-Fnmgr-Forwarded-By"

// forwardTimeout bounds a forwarded write (a publish copies code).
const forwardTimeout = 5 * time.Minute

// DefaultLeaderWait is how long a write waits for a leader while none is
// known: a lease changing hands (a leader killed, or one whose renewal
// stalled past the lease) takes at most the lease's TTL (5 s by default)
// and a renewal. leaderPoll is how often it looks.
const (
	DefaultLeaderWait = 10 * time.Second
	leaderPoll        = 50 * time.Millisecond
)

// awaitLeader waits, while no leader is known, for one (at most
// LeaderWait, and no longer than the request), so that a write made while
// the lead changes hands is carried out rather than refused; nothing has
// been done with it yet, so waiting cannot do it twice. It reports true
// when this replica leads now (the write is carried out here), false when
// the write is to be forwarded (or refused: forward then answers 503). A
// write forwarded here by another replica waits only for this replica to
// lead: it is never forwarded again.
func (a *API) awaitLeader(r *http.Request) bool {
	wait := a.opts.LeaderWait
	if wait == 0 {
		wait = DefaultLeaderWait
	}
	forwardedHere := r.Header.Get(ForwardedHeader) != ""
	known := func() bool {
		info, err := a.opts.Leadership.Leader()
		return err == nil && info.Admin != "" && info.ID != a.opts.ReplicaID
	}
	if wait < 0 || (!forwardedHere && known()) {
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	t := time.NewTicker(leaderPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return a.opts.Leadership.Leading()
		case <-t.C:
		}
		if a.opts.Leadership.Leading() {
			return true
		}
		if !forwardedHere && known() {
			return false
		}
	}
}

func (a *API) getLeader(w http.ResponseWriter, r *http.Request) {
	info, err := a.opts.Leadership.Leader()
	if err != nil {
		httpapi.WriteError(w, r, http.StatusServiceUnavailable, "No replica holds the lead now; try again in a few seconds.")
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, info)
}

// forwarded reports whether rt's request must go to the leader: a write
// of the function API on a replica that does not lead. The controller set
// (/v1/controllers) is each replica's own and is never forwarded.
func (a *API) forwarded(rt route, r *http.Request) bool {
	if a.opts.Leadership == nil || rt.public || rt.admin || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return false
	}
	return !a.opts.Leadership.Leading()
}

// forward sends r, credentials and body as they came, to the leader's
// admin API and relays its answer. Nothing is retried: a write that
// reached the leader is carried out once, and the client sees its answer.
func (a *API) forward(w http.ResponseWriter, r *http.Request) {
	if by := r.Header.Get(ForwardedHeader); by != "" {
		httpapi.WriteError(w, r, http.StatusServiceUnavailable, "The lead moved while this request was forwarded; try again in a few seconds.")
		return
	}
	info, err := a.opts.Leadership.Leader()
	target, perr := url.Parse(info.Admin)
	if err != nil || perr != nil || target.Host == "" {
		httpapi.WriteError(w, r, http.StatusServiceUnavailable, "No replica holds the lead now; try again in a few seconds.")
		return
	}
	a.proxy.ServeHTTP(w, r.WithContext(withTarget(r.Context(), target, info.ID)))
}

// newProxy is the reverse proxy of forwarded writes.
func (a *API) newProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			t := targetFrom(pr.In.Context())
			pr.SetURL(t.url)
			pr.Out.Host = t.url.Host
			pr.Out.Header.Set(ForwardedHeader, a.opts.ReplicaID)
			pr.Out.Header.Set(httpapi.RequestIDHeader, httpapi.RequestID(pr.In.Context()))
		},
		Transport: &http.Transport{
			Proxy:                 nil,
			ResponseHeaderTimeout: forwardTimeout,
			IdleConnTimeout:       30 * time.Second,
			MaxIdleConnsPerHost:   16,
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			t := targetFrom(r.Context())
			a.log.WarnContext(r.Context(), "forward an admin write to the leader", "leader", t.id,
				"request_id", httpapi.RequestID(r.Context()), "err", redactErr(err))
			httpapi.WriteError(w, r, http.StatusBadGateway,
				"The leader ("+t.id+") did not answer this write; it may or may not have been carried out. Check, then try again.")
		},
	}
}

// redactErr keeps a forwarding error's message free of URLs' user info.
func redactErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			return strings.Replace(err.Error(), ue.URL, u.Redacted(), 1)
		}
	}
	return err.Error()
}
