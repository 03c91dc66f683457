// Package couchtest is a fake CouchDB for unit tests of the packages that
// talk to CouchDB (couch itself, the preflight checks): an HTTP server that
// answers the few requests a client makes to connect and to find its
// databases, checks Basic credentials when told to, and records every
// request it saw. It keeps no documents: tests that need a database use
// the real pouchdb-server (tests/couchtest) or an in-memory store.
//
// It imports nothing of fnmgr, so that any layer may use it.
package couchtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Options configure a Fake.
type Options struct {
	// DBs are the databases that exist: HEAD and GET /{db} answer 200.
	DBs []string
	// User and Password, when User is set, are the Basic credentials every
	// request must carry; others get 401, as CouchDB answers.
	User, Password string
}

// Request is what the fake saw of one request.
type Request struct {
	Method, Path    string
	Auth            string // the Authorization header
	AcceptEncoding  string
	ContentEncoding string
}

// Fake is a running fake CouchDB; URL is its address.
type Fake struct {
	*httptest.Server
	o    Options
	mu   sync.Mutex
	reqs []Request
}

// NewFake starts a fake CouchDB, stopped when the test ends. It answers
//   - GET /: CouchDB's welcome (version 3.3.3);
//   - HEAD or GET /{db} for a database in Options.DBs: 200 with its info;
//   - PUT /{db}/{doc}: 201, the document written with revision 1-a;
//   - anything else: 404 not_found.
func NewFake(t testing.TB, o Options) *Fake {
	t.Helper()
	f := &Fake{o: o}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// Requests returns what the fake has seen so far, in order.
func (f *Fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reqs = append(f.reqs, Request{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"),
		AcceptEncoding: r.Header.Get("Accept-Encoding"), ContentEncoding: r.Header.Get("Content-Encoding")})
	f.mu.Unlock()
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	if u, p, _ := r.BasicAuth(); f.o.User != "" && (u != f.o.User || p != f.o.Password) {
		answer(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized", "reason": "Name or password is incorrect."})
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/":
		answer(w, http.StatusOK, map[string]any{"couchdb": "Welcome", "version": "3.3.3",
			"vendor": map[string]string{"name": "The Apache Software Foundation"}})
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && len(parts) == 1 && slices.Contains(f.o.DBs, parts[0]):
		answer(w, http.StatusOK, map[string]any{"db_name": parts[0], "doc_count": 0, "update_seq": "0"})
	case r.Method == http.MethodPut && len(parts) == 2:
		answer(w, http.StatusCreated, map[string]any{"ok": true, "id": parts[1], "rev": "1-a"})
	default:
		answer(w, http.StatusNotFound, map[string]string{"error": "not_found", "reason": "missing"})
	}
}

func answer(w http.ResponseWriter, status int, body any) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
