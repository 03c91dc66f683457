package gateway

import "net/http"

// Decision is what a Router decides for one request.
type Decision struct {
	// Status, when non-zero, answers the request with this status and
	// Message in OpenWhisk's error shape, without reaching a controller
	// (423 for a BLOCKED or UPDATING function, 410 for a RETIRED one).
	Status int
	// Message is the sentence sent with Status; it names the function and
	// its state and must not carry secrets.
	Message string
	// Path, when set, is the escaped path sent to the controller instead of
	// the request's (an alias resolved to a version by weight).
	Path string
	// RetryAfter, with Status, is sent as the Retry-After header in
	// seconds (a refusal that may pass if the caller tries again).
	RetryAfter int
}

// Router decides, before proxying, whether and where a request goes.
//
// Route is called on the request path of every proxied request, so it must
// be fast and must not block on I/O: read state prepared elsewhere (an
// atomic.Pointer swapped by whoever owns it). It must not read or keep the
// request body, and it is called concurrently.
type Router interface {
	Route(r *http.Request) Decision
}

// RouterFunc adapts a function to Router.
type RouterFunc func(r *http.Request) Decision

// Route calls f.
func (f RouterFunc) Route(r *http.Request) Decision { return f(r) }

// PassThrough sends every request to a controller unchanged.
var PassThrough Router = RouterFunc(func(*http.Request) Decision { return Decision{} })
