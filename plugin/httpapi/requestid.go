package httpapi

import (
	"context"
	"crypto/rand"
	"net/http"
)

// RequestIDHeader carries the request id in both directions, as OpenWhisk's
// controller uses it for its transaction ids.
const RequestIDHeader = "X-Request-ID"

// maxRequestIDLen bounds an X-Request-ID we accept from a client.
const maxRequestIDLen = 128

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewRequestID returns 32 random alphanumeric characters, the form of
// OpenWhisk's transaction ids.
func NewRequestID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

// requestIDFrom returns the client's X-Request-ID when it is safe to echo
// and log (1 to 128 characters of [A-Za-z0-9._:-]), else a new id.
func requestIDFrom(r *http.Request) string {
	if id := r.Header.Get(RequestIDHeader); validRequestID(id) {
		return id
	}
	return NewRequestID()
}

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.' || c == '_' || c == '-' || c == ':':
		default:
			return false
		}
	}
	return true
}

type ctxKey struct{}

// reqInfo is what Observe records about one request; inner handlers fill in
// the route template through SetRoute.
type reqInfo struct {
	id    string
	route string
}

func infoFrom(ctx context.Context) *reqInfo {
	ri, _ := ctx.Value(ctxKey{}).(*reqInfo)
	return ri
}

// RequestID returns the id Observe assigned to the request carrying ctx, or
// "" outside Observe.
func RequestID(ctx context.Context) string {
	if ri := infoFrom(ctx); ri != nil {
		return ri.id
	}
	return ""
}

// SetRoute records the route template (such as
// "/v1/namespaces/{ns}/functions/{fn}") that served r, for the access log and
// the metrics' handler label. Outside Observe it does nothing.
func SetRoute(r *http.Request, template string) {
	if ri := infoFrom(r.Context()); ri != nil {
		ri.route = template
	}
}
