package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"time"

	"github.com/fnmgr/fnmgr/plugin/httpapi"
)

type callKey struct{}

// call is one proxied request on its way through the gateway: serve
// makes it, the proxy's Rewrite and the balancer read it from the
// request's context.
type call struct {
	// upstream is the controller of the current try.
	upstream *Upstream
	// tried are the controllers that failed it before.
	tried []*Upstream
	// path and rawPath are the path sent (the request's, or the Router's),
	// before a controller's base path.
	path, rawPath string
	// body is the request body when replayable (nil: none).
	body       []byte
	replayable bool
	idempotent bool
	// sent is set once a failed try may have sent bytes.
	sent bool
	// streamed is the client's body streaming through when it is too
	// large to replay.
	streamed *trackedBody
}

func callFrom(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// notSentError is a failure that provably left nothing on any controller
// (no controller could be reached).
type notSentError struct{ err error }

func (e notSentError) Error() string { return e.err.Error() }
func (e notSentError) Unwrap() error { return e.err }

// balancer is the proxy's RoundTripper: it sends each try to the call's
// controller, ejects controllers that fail (a transport error or a 503),
// and sends a failed request to another controller when that cannot run
// anything twice:
//
//   - a read (idempotent) request with a replayable body, after any
//     transport error;
//   - any request with a replayable body that provably never left: no
//     connection was made (refused, unreachable), or the connection wrote
//     none of its bytes.
//
// An invocation that may have reached a controller is never sent again:
// the client gets the error. The Transport's own silent retries are kept to
// the same rule (see emptyBody).
type balancer struct {
	g    *Gateway
	next http.RoundTripper
}

func (b balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	c := callFrom(req.Context())
	if c == nil {
		return b.next.RoundTrip(req)
	}
	conflicts := 0
	for try := 0; ; try++ {
		up := c.upstream
		a := newAttempt()
		start := time.Now()
		resp, err := b.next.RoundTrip(c.prepare(req, a, try > 0))
		if err == nil {
			up.m.duration.Observe(time.Since(start).Seconds())
			if resp.StatusCode == http.StatusServiceUnavailable {
				up.markUnhealthy(ReasonUnavailable)
			}
			if again, ok := b.conflictRetry(req, c, resp, conflicts); ok {
				conflicts++
				up.m.conflictRetries.Inc()
				resp = again
				try = -1 // a retry on the same controller, not a failover
				if !pause(req.Context(), conflictPause<<(conflicts-1)) {
					return resp, nil
				}
				continue
			}
			return resp, nil
		}
		if req.Context().Err() != nil || (c.streamed != nil && c.streamed.failed.Load()) {
			return nil, err // the client went away or broke its body off
		}
		up.m.errors.Inc()
		up.markUnhealthy(ReasonConnectionError)
		sent := a.wrote()
		c.sent = c.sent || sent
		if !c.replayable || (sent && !c.idempotent) {
			if !c.sent {
				return nil, notSentError{err}
			}
			return nil, err
		}
		c.tried = append(c.tried, up)
		next := b.g.upstreams.Load().pick(c.tried)
		if next == nil {
			if !c.sent {
				return nil, notSentError{err}
			}
			return nil, err
		}
		up.m.retries.Inc()
		b.g.log.DebugContext(req.Context(), "retrying on another controller",
			"controller", up.Name, "next", next.Name, "sent", sent, "err", err,
			"request_id", httpapi.RequestID(req.Context()))
		up.inFlight.Add(-1)
		next.inFlight.Add(1)
		c.upstream = next
	}
}

// OpenWhisk answers a write that lost a race with another writer of the
// same document 409 with this error (common/scala/.../http/Messages.scala
// conflictMessage; controller/.../ApiUtils.scala putEntity and
// deleteEntity). Nothing was written.
const conflictMessage = "Concurrent modification to resource detected."

// Conflicts a write through the gateway is retried after, at most, and the
// pause before the first retry (it doubles with each: 0.25, 0.5, 1 and
// 2 s, time for fnmgr's cache invalidation to reach the controller).
const (
	maxConflictRetries = 4
	conflictPause      = 250 * time.Millisecond
)

// conflictRetry decides whether resp, a controller's answer to req, is a
// write that lost a race with fnmgr's own annotation write and should be
// sent again; it then returns the response to hand the client should the
// retry not happen (the original, its body restored), and ok.
//
// fnmgr writes its state annotations on an action about two seconds after
// each change (versions' AnnotateDelay) and the controllers read actions
// from a cache until fnmgr's invalidation reaches them, so a user's
// `wsk action update --overwrite` or `wsk action delete` landing in that
// window gets OpenWhisk's 409 although the user raced nobody they know of.
// Such a write changed nothing (OpenWhisk checks the document's revision),
// so sending it again cannot apply it twice: a DELETE or a PUT of an
// entity, with a replayable body, answered 409 with conflictMessage, is
// retried on the same controller a few times with a growing pause. A
// PUT without overwrite answers a different 409 ("resource already
// exists") and is not retried.
func (b balancer) conflictRetry(req *http.Request, c *call, resp *http.Response, done int) (*http.Response, bool) {
	if resp.StatusCode != http.StatusConflict || done >= maxConflictRetries || !c.replayable ||
		(req.Method != http.MethodDelete && req.Method != http.MethodPut) ||
		!strings.HasPrefix(c.path, "/api/v1/namespaces/") {
		// Only the API's entity writes: a web action (/api/v1/web/…) or
		// an API gateway route runs user code whatever its method, and
		// its 409 is the action's own answer.
		return resp, false
	}
	const limit = 4 << 10 // OpenWhisk's error bodies are short
	head, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil || !bytes.Contains(head, []byte(conflictMessage)) {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
		return resp, false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(head))
	b.g.log.DebugContext(req.Context(), "write met a concurrent modification; sending it again",
		"method", req.Method, "route", routeLabel(c.path), "retry", done+1, "request_id", httpapi.RequestID(req.Context()))
	return resp, true
}

// pause waits d, or less when ctx ends first (false).
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// prepare returns the request for one try: its own context carrying the
// attempt's trace, a fresh reader over the replayable body, and, for a
// retry, the new controller's URL.
func (c *call) prepare(req *http.Request, a *attempt, retry bool) *http.Request {
	r := req.WithContext(httptrace.WithClientTrace(req.Context(), &a.trace))
	if retry {
		u := c.upstream.target(c.path, c.rawPath, req.URL.RawQuery)
		r.URL, r.Host = &u, ""
	}
	if !c.replayable {
		return r // the client's body streams through, once
	}
	r.GetBody = nil // the Transport must not resend on its own (see emptyBody)
	switch {
	case len(c.body) > 0:
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(c.body)), int64(len(c.body))
	case !c.idempotent && needsEmptyBody(r):
		r.Body, r.ContentLength = emptyBody{}, 0
	default:
		r.Body, r.ContentLength = nil, 0
	}
	return r
}
