// Package api holds the bodies of fnmgr's admin API (SPEC.md section 2,
// docs/openapi.json): what the server in plugin/admin writes and reads, and
// what plugin/client and the fnmgr CLI send and decode. Both sides import
// these types, so a field cannot change on one side only.
//
// The package is a leaf: it imports only OpenWhisk's entity shapes
// (couch/entity), never a server package, so a client built on it carries
// none of fnmgr's server code. Several shapes are also parts of the
// registry's documents (a function's aliases, settings and versions, a
// snapshot, a history entry); package registry names them from here.
//
// The pre-optimizer's views (a run, its summary, its request) belong to
// the optimizer library (package optimizer), which sits below plugin/ and
// cannot import this package; plugin/client names them from there.
package api

import "github.com/fnmgr/fnmgr/couch/entity"

// Error is every error answer: OpenWhisk's shape {"error": sentence, "code":
// request id} (common/scala/.../http/ErrorResponse.scala).
type Error = entity.Error
