package couch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"time"
)

// ErrTimeout reports that the server sent nothing for longer than a limit of
// ClientOptions allows. Errors from kivik calls wrap it.
var ErrTimeout = errors.New("couch: server timed out")

// couchDefaultHeartbeat is what CouchDB uses for heartbeat=true.
const couchDefaultHeartbeat = 60 * time.Second

// limitTransport applies a response header limit and a body read stall limit
// to each request, chosen by the kind of request (see ClientOptions).
type limitTransport struct {
	base      http.RoundTripper
	header    time.Duration // for ordinary requests; 0 = none
	stall     time.Duration // for ordinary requests; 0 = none
	feedGrace time.Duration
}

// limits returns the header and stall limits for req.
func (t *limitTransport) limits(req *http.Request) (header, stall time.Duration) {
	q := req.URL.Query()
	switch base := path.Base(req.URL.Path); {
	case base != "_changes" && base != "_db_updates":
		return t.header, t.stall
	case q.Get("feed") != "longpoll" && q.Get("feed") != "continuous" && q.Get("feed") != "eventsource":
		return t.header, t.stall
	}
	if hb := q.Get("heartbeat"); hb != "" {
		d := couchDefaultHeartbeat
		if hb != "true" {
			ms, err := strconv.ParseInt(hb, 10, 64)
			if err != nil || ms <= 0 {
				return 0, 0 // the server will refuse it; let it say so
			}
			d = time.Duration(ms) * time.Millisecond
		}
		l := 2*d + t.feedGrace
		return l, l
	}
	if ms, err := strconv.ParseInt(q.Get("timeout"), 10, 64); err == nil && ms > 0 {
		l := time.Duration(ms)*time.Millisecond + t.feedGrace
		return l, l
	}
	return 0, 0
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	header, stall := t.limits(req)
	if header <= 0 && stall <= 0 {
		return t.base.RoundTrip(req)
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	var timer *time.Timer
	if header > 0 {
		timer = time.AfterFunc(header, func() {
			cancel(fmt.Errorf("%w: no response headers within %s", ErrTimeout, header))
		})
	}
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if timer != nil && !timer.Stop() && err == nil {
		// The limit passed just as the headers came; honour it.
		resp.Body.Close()
		resp, err = nil, context.Cause(ctx)
	}
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, ErrTimeout) {
			err = fmt.Errorf("%w (%w)", cause, err)
		}
		cancel(nil)
		return nil, err
	}
	resp.Body = newStallBody(ctx, resp.Body, stall, cancel)
	return resp, nil
}

// stallBody fails a Read that makes no progress for limit, and cancels the
// request's context when closed. Time spent between Reads does not count.
type stallBody struct {
	ctx    context.Context
	rc     io.ReadCloser
	limit  time.Duration
	timer  *time.Timer // nil when limit is 0
	cancel context.CancelCauseFunc
}

func newStallBody(ctx context.Context, rc io.ReadCloser, limit time.Duration, cancel context.CancelCauseFunc) *stallBody {
	b := &stallBody{ctx: ctx, rc: rc, limit: limit, cancel: cancel}
	if limit > 0 {
		b.timer = time.AfterFunc(limit, func() {
			cancel(fmt.Errorf("%w: response body stalled for %s", ErrTimeout, limit))
		})
		b.timer.Stop()
	}
	return b
}

func (b *stallBody) Read(p []byte) (int, error) {
	if b.timer != nil {
		b.timer.Reset(b.limit)
	}
	n, err := b.rc.Read(p)
	if b.timer != nil {
		b.timer.Stop()
	}
	if err != nil && !errors.Is(err, io.EOF) {
		if cause := context.Cause(b.ctx); errors.Is(cause, ErrTimeout) {
			err = fmt.Errorf("%w (%w)", cause, err)
		}
	}
	return n, err
}

func (b *stallBody) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
	err := b.rc.Close()
	b.cancel(nil)
	return err
}
