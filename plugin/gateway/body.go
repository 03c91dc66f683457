package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
)

// DefaultMaxReplayBody is the largest request body the gateway keeps in
// memory so that it can send it again to another controller: OpenWhisk's
// payload limit (1 MB). A larger body streams through and is never
// retried; the controller answers 413 for it as it would without us.
const DefaultMaxReplayBody = 1 << 20

// idempotent reports whether sending r twice cannot run anything twice:
// reads of the OpenWhisk API. Web actions run code whatever their method,
// and paths outside /api/v1 (API gateway routes) may do so too.
func idempotent(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return false
	}
	p := r.URL.Path
	if p == "/" {
		return true
	}
	return (p == "/api/v1" || strings.HasPrefix(p, "/api/v1/")) && !strings.HasPrefix(p, "/api/v1/web/")
}

// replayBody reads r's body into memory when it is at most max bytes and
// sets r.Body to read it back, so that the body can be sent again. It
// reports whether the body is replayable: false for a larger body, which
// streams (its first bytes, already read, come first). An error means the
// client's body could not be read.
func replayBody(r *http.Request, max int64) ([]byte, bool, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true, nil
	}
	switch {
	case r.ContentLength == 0:
		return nil, true, nil
	case r.ContentLength > max:
		return nil, false, nil
	case r.ContentLength > 0:
		buf := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return nil, false, fmt.Errorf("gateway: read the request body: %w", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(buf))
		return buf, true, nil
	}
	// Unknown length (chunked): read up to max+1 bytes to find out.
	var b bytes.Buffer
	n, err := b.ReadFrom(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, false, fmt.Errorf("gateway: read the request body: %w", err)
	}
	if n > max {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b.Bytes()), r.Body), r.Body}
		return nil, false, nil
	}
	buf := b.Bytes()
	r.ContentLength = int64(len(buf))
	r.TransferEncoding = nil
	if len(buf) == 0 {
		r.Body = http.NoBody
		return nil, true, nil
	}
	r.Body = io.NopCloser(bytes.NewReader(buf))
	return buf, true, nil
}

// emptyBody stands for an absent body on requests that must not be
// replayed: http.Transport resends a request without a body on its own
// when the method is GET, HEAD or OPTIONS or an Idempotency-Key header is
// set, which must not happen to a web action. The Transport probes it,
// finds it empty and sends no body.
type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyBody) Close() error             { return nil }

// needsEmptyBody reports whether a request without body that must not be
// replayed would be replayed by http.Transport.
func needsEmptyBody(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return r.Header.Get("Idempotency-Key") != "" || r.Header.Get("X-Idempotency-Key") != ""
}

// trackedBody notes a failure to read the client's body while it streams
// through: the client's fault, not the controller's.
type trackedBody struct {
	io.ReadCloser
	failed atomic.Bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		b.failed.Store(true)
	}
	return n, err
}
