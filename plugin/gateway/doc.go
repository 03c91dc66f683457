// Package gateway is fnmgr's single endpoint for the whole OpenWhisk API:
// a reverse proxy for "/" and "/api/..." (web actions included) in front of
// one or more controllers (SPEC.md section 4).
//
// It is transparent: status, headers (Authorization included, never logged),
// body and streaming pass through unchanged; only the hop-by-hop headers
// go, X-Forwarded-* are added, and X-Request-ID carries the request id both
// ways. Responses of unknown length (chunked) and event streams are
// flushed after every write, so streams arrive as they are written. Size
// limits are the controller's: a body over OpenWhisk's payload limit
// streams through and the controller answers 413.
//
// Each request goes through these steps (gateway.go, balancer.go):
//
//  1. a Router (router.go) may refuse it without reaching a controller
//     (lifecycle refusals: 423, 410) or send it to another path (weighted
//     alias routing); the default Router passes everything;
//  2. the current controller set (an atomic.Pointer, swapped whole by
//     SetControllers, AddController and RemoveController) picks a
//     controller, round-robin over the healthy ones; with none healthy the
//     answer is 503 in OpenWhisk's error shape;
//  3. a body of at most MaxReplayBody bytes is read into memory so that it
//     can be sent again; the balancer sends the request and, when a
//     controller fails it, sends it to another one only when that cannot
//     run anything twice: a read of the API after any transport error, any
//     request that provably never left (no connection, or not one byte
//     written: the dialer counts them). An invocation (POST to actions and
//     triggers, any web action) that may have reached a controller is
//     never sent again; the client sees 502.
//
// Health (health.go, upstreams.go): Start runs active checks, GET / on
// every controller each HealthInterval (1 s) with a timeout; a 2xx answer
// makes a controller healthy. A transport error or a 503 on a proxied
// request ejects the controller at once (passive ejection) until a check
// passes again.
//
// Controllers come and go at run time without dropping calls: a request
// keeps the controller it picked, so a removed controller finishes its
// requests in flight, and a retry picks from the current set.
//
// Metrics (metrics.go) are labelled by controller only, and a removed
// controller's series are deleted.
package gateway
