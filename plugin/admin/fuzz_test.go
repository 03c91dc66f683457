package admin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

// FuzzAdminBody sends a fuzzed JSON body to one of the routes that take a
// body (op picks it among bodyRoutes, so a new route is fuzzed too), with
// the real handlers over an unreachable CouchDB (newOfflineAPI). The
// admin API must answer every body, never panic; a body that is not JSON
// is a 400 (or 413), never a 5xx; every error has OpenWhisk's shape; and
// no error message repeats an action parameter's value. Seeds are in
// testdata/fuzz/FuzzAdminBody.
func FuzzAdminBody(f *testing.F) {
	a := newOfflineAPI(f)
	rts := bodyRoutes()
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		rt := rts[int(op)%len(rts)]
		r := a.do(t, rt.method, pathOf(t, a, rt, "guest"), bearer(testToken), bytes.NewReader(body))
		if r.status < 200 || r.status > 599 {
			t.Fatalf("status %d", r.status)
		}
		if r.status >= 400 {
			requireErrorShape(t, r)
		}
		invalid := len(bytes.TrimSpace(body)) > 0 && !json.Valid(body)
		if invalid && r.status != http.StatusBadRequest && r.status != http.StatusRequestEntityTooLarge &&
			r.status != http.StatusNotImplemented && r.status != http.StatusConflict {
			t.Fatalf("%s %s: a body that is not JSON got %d %s", rt.method, rt.path, r.status, r.body)
		}
		if r.status >= 400 {
			for _, v := range parameterValues(body) {
				if bytes.Contains(r.body, []byte(v)) {
					t.Fatalf("the error repeats a parameter's value %q: %s", v, r.body)
				}
			}
		}
	})
}

// parameterValues returns the string forms (6 bytes or longer) of the
// values of body.parameters, when body is an object that has them.
func parameterValues(body []byte) []string {
	var req struct {
		Parameters []struct {
			Value json.RawMessage `json:"value"`
		} `json:"parameters"`
	}
	if json.Unmarshal(body, &req) != nil {
		return nil
	}
	var out []string
	for _, p := range req.Parameters {
		var s string
		if json.Unmarshal(p.Value, &s) != nil {
			s = string(p.Value)
		}
		if len(s) >= 6 {
			out = append(out, s)
		}
	}
	return out
}
