// Package gateway is fnmgr's single endpoint for the whole OpenWhisk API:
// a reverse proxy for "/" and "/api/..." (web actions included) in front of
// one or more controllers (SPEC.md section 4).
//
// It is transparent: status, headers (Authorization included, never logged),
// body and streaming pass through unchanged; only the hop-by-hop headers
// go, X-Forwarded-* are added, and X-Request-ID carries the request id both
// ways.
//
// Each request goes through two decisions before it is proxied:
//
//  1. a Router (router.go) may refuse it without reaching a controller
//     (lifecycle refusals: 423, 410) or send it to another path (weighted
//     alias routing); the default Router passes everything;
//  2. the current upstream set (an atomic.Pointer, swapped whole by
//     SetControllers) picks a controller, round-robin over the healthy ones.
//
// Health checks and the lifecycle/alias Routers plug into these two points.
package gateway
