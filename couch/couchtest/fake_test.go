package couchtest

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFake: the fake answers as CouchDB does the requests it knows, wants
// its credentials when given some, and records every request.
func TestFake(t *testing.T) {
	f := NewFake(t, Options{DBs: []string{"whisks"}, User: "admin", Password: "pw"})
	for _, tc := range []struct {
		name, method, path, user, pass string
		want                           int
		body                           string
	}{
		{"welcome", "GET", "/", "admin", "pw", 200, `"couchdb":"Welcome"`},
		{"a database that exists", "HEAD", "/whisks", "admin", "pw", 200, ""},
		{"its info", "GET", "/whisks", "admin", "pw", 200, `"db_name":"whisks"`},
		{"a database that does not", "HEAD", "/activations", "admin", "pw", 404, ""},
		{"a document written", "PUT", "/whisks/doc1", "admin", "pw", 201, `"id":"doc1","ok":true,"rev":"1-a"`},
		{"a document read", "GET", "/whisks/doc1", "admin", "pw", 404, `"error":"not_found"`},
		{"wrong password", "GET", "/", "admin", "nope", 401, `"error":"unauthorized"`},
		{"no credentials", "GET", "/", "", "", 401, `"error":"unauthorized"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, f.URL+tc.path, strings.NewReader("{}"))
			require.NoError(t, err)
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := f.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tc.want, resp.StatusCode, "%s", b)
			require.Contains(t, string(b), tc.body)
		})
	}
	got := f.Requests()
	require.Len(t, got, 8)
	require.Equal(t, Request{Method: "PUT", Path: "/whisks/doc1", Auth: "Basic YWRtaW46cHc=", AcceptEncoding: "gzip"}, got[4])
	require.Empty(t, got[7].Auth)
}
