package openwhisk

import (
	"compress/gzip"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-kivik/kivik/v4"
	_ "github.com/go-kivik/kivik/v4/couchdb" // the "couch" driver
)

// fakeCouch is an in-memory CouchDB with the requests whiskdb.Store (not
// batched) makes: documents by revision, attachments and conflicts.
// (plugin/subjects has its own fake of the subjects database's view.)
type fakeCouch struct {
	mu   sync.Mutex
	docs map[string]*fakeDoc // by "db/id"
	// conflicts makes the next n document PUTs answer 409.
	conflicts int
}

type fakeDoc struct {
	gen     int
	revs    map[string]map[string]any // rev -> body
	atts    map[string][]byte
	deleted bool
}

func (d *fakeDoc) rev() string { return fmt.Sprintf("%d-%032x", d.gen, d.gen) }

func newFakeCouch(t *testing.T) (*fakeCouch, *kivik.Client) {
	t.Helper()
	f := &fakeCouch{docs: map[string]*fakeDoc{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := kivik.New("couch", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "reason": "missing"})
}

// put stores body as a new revision of db/id (test setup and PUTs).
func (f *fakeCouch) put(db, id string, body map[string]any) string {
	d := f.docs[db+"/"+id]
	if d == nil {
		d = &fakeDoc{revs: map[string]map[string]any{}, atts: map[string][]byte{}}
		f.docs[db+"/"+id] = d
	}
	d.gen++
	d.deleted = false
	body["_id"], body["_rev"] = id, d.rev()
	d.revs[d.rev()] = body
	return d.rev()
}

// doc returns the latest body of db/id (nil when missing or deleted).
func (f *fakeCouch) doc(db, id string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.docs[db+"/"+id]
	if d == nil || d.deleted {
		return nil
	}
	return d.revs[d.rev()]
}

// setDoc stores v (any JSON value) as the next revision of db/id.
func (f *fakeCouch) setDoc(t *testing.T, db, id string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.put(db, id, body)
}

func (f *fakeCouch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad_request", "reason": err.Error()})
			return
		}
		r.Body = zr
	}
	var parts []string
	for _, p := range strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/") {
		u, _ := url.PathUnescape(p)
		parts = append(parts, u)
	}
	if len(parts) == 1 && r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK) // the database exists
		return
	}
	if len(parts) < 2 {
		notFound(w)
		return
	}
	db, id := parts[0], parts[1]
	d := f.docs[db+"/"+id]
	if len(parts) == 3 { // an attachment
		f.attachment(w, r, d, db, id, parts[2])
		return
	}
	switch r.Method {
	case http.MethodGet:
		if d == nil || (d.deleted && r.URL.Query().Get("rev") == "") {
			notFound(w)
			return
		}
		rev := r.URL.Query().Get("rev")
		if rev == "" {
			rev = d.rev()
		}
		body, ok := d.revs[rev]
		if !ok {
			notFound(w)
			return
		}
		w.Header().Set("ETag", strconv.Quote(rev))
		writeJSON(w, http.StatusOK, body)
	case http.MethodPut:
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad_request", "reason": err.Error()})
			return
		}
		cur := ""
		if d != nil && !d.deleted {
			cur = d.rev()
		}
		if rev, _ := body["_rev"].(string); rev != cur || f.conflicts > 0 {
			if f.conflicts > 0 {
				f.conflicts--
			}
			writeJSON(w, http.StatusConflict, map[string]string{"error": "conflict", "reason": "Document update conflict."})
			return
		}
		if d != nil && d.atts != nil {
			delete(body, "_attachments") // kept as they are
		}
		rev := f.put(db, id, body)
		writeJSON(w, http.StatusCreated, map[string]any{"ok": true, "id": id, "rev": rev})
	case http.MethodDelete:
		if d == nil || d.deleted {
			notFound(w)
			return
		}
		if r.URL.Query().Get("rev") != d.rev() {
			writeJSON(w, http.StatusConflict, map[string]string{"error": "conflict", "reason": "Document update conflict."})
			return
		}
		d.gen++
		d.deleted = true
		w.Header().Set("ETag", strconv.Quote(d.rev()))
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "id": id, "rev": d.rev()})
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func (f *fakeCouch) attachment(w http.ResponseWriter, r *http.Request, d *fakeDoc, db, id, name string) {
	switch r.Method {
	case http.MethodGet:
		b, ok := []byte(nil), false
		if d != nil && !d.deleted {
			b, ok = d.atts[name]
		}
		if !ok {
			notFound(w)
			return
		}
		sum := md5.Sum(b)
		w.Header().Set("ETag", strconv.Quote(base64.StdEncoding.EncodeToString(sum[:])))
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(b)
	case http.MethodPut:
		if d == nil || d.deleted || r.URL.Query().Get("rev") != d.rev() {
			writeJSON(w, http.StatusConflict, map[string]string{"error": "conflict", "reason": "Document update conflict."})
			return
		}
		b, _ := io.ReadAll(r.Body)
		body := map[string]any{}
		for k, v := range d.revs[d.rev()] {
			body[k] = v
		}
		d.atts[name] = b
		body["_attachments"] = map[string]any{name: map[string]any{"content_type": r.Header.Get("Content-Type"), "stub": true, "length": len(b)}}
		rev := f.put(db, id, body)
		writeJSON(w, http.StatusCreated, map[string]any{"ok": true, "id": id, "rev": rev})
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}
