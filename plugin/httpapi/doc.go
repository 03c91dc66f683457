// Package httpapi holds the HTTP conventions that fnmgr's two servers (the
// admin API and the gateway) share: OpenWhisk's error shape
// {"error": "<sentence>", "code": "<request id>"}, request ids taken from
// X-Request-ID or generated and echoed in the response, one access-log line
// per request, and request metrics labelled by route template.
//
// Nothing here reads or logs request headers other than X-Request-ID: the
// Authorization header in particular never reaches a log line.
package httpapi
