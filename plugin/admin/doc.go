// Package admin serves fnmgr's admin API (SPEC.md section 2): the function
// routes under /v1/namespaces/{ns}/functions, the gateway's controller set
// at /v1/controllers (list, add, remove: admin token only, since it is the
// deployment's), /healthz, /readyz, /metrics and the API's own OpenAPI
// description at /v1/openapi.json.
//
// Routes are one table (routes.go); the embedded openapi.json describes
// exactly that table, which a test checks both ways. A function route whose
// operation has no handler yet answers 501.
//
// {fn} is "name" or "package/name"; the slash may be sent as %2F. The router
// matches the encoded path, so "pkg%2Fname" is one segment and is decoded
// when the handler reads it. A literal slash works too, except for a
// packaged action whose name is a sub-resource word ("versions", "aliases",
// …): "pkg/versions" means the versions of "pkg", so send "pkg%2Fversions".
//
// Authentication (auth.go): "Authorization: Bearer <admin token>" reaches
// every namespace; "Authorization: Basic uuid:key" is resolved by an
// Authenticator to a subject and reaches that subject's namespaces only.
// The probes, /metrics and /v1/openapi.json need no credentials. The
// Authorization header is never logged.
//
// Errors use OpenWhisk's shape {"error": "<sentence>", "code": "<request id>"}
// for every status, 404 and 405 included.
package admin
