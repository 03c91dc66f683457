package couch

import (
	"fmt"
	"net/http"
	"path"
)

// gateTransport asks a gate before every request that may change a
// database, and sends none the gate refuses: the fencing of a replica that
// may have lost the lead (see ClientOptions.WriteGate).
type gateTransport struct {
	base http.RoundTripper
	gate func(*http.Request) error
}

// readOnlyPOST are the endpoints that take a POST body but change nothing.
var readOnlyPOST = map[string]bool{
	"_all_docs": true, "_find": true, "_explain": true, "_bulk_get": true,
	"_changes": true, "_revs_diff": true, "_design_docs": true, "queries": true,
}

// IsWrite reports whether req may change a database on a CouchDB server:
// every method except GET, HEAD and OPTIONS, except the POSTs that only
// read (_all_docs, _find, _bulk_get, _changes and the like).
func IsWrite(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	case http.MethodPost:
		return !readOnlyPOST[path.Base(req.URL.Path)]
	}
	return true
}

func (t *gateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if IsWrite(req) {
		if err := t.gate(req); err != nil {
			if req.Body != nil {
				_ = req.Body.Close()
			}
			return nil, fmt.Errorf("couch: %s %s refused: %w", req.Method, req.URL.Path, err)
		}
	}
	return t.base.RoundTrip(req)
}
