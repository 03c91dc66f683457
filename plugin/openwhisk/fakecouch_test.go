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
// batched) and Keys make: documents by revision, attachments, conflicts,
// and OpenWhisk's identities view over subject documents (emitted as the
// contract's map function does). It can be made to fail.
type fakeCouch struct {
	mu   sync.Mutex
	docs map[string]*fakeDoc // by "db/id"
	// conflicts makes the next n document PUTs answer 409.
	conflicts int
	down      bool
	viewCalls int
	// rawRows, when set, are extra rows the identities view returns for
	// key [namespace] (for rows that cannot be decoded).
	rawRows map[string][]json.RawMessage
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

func (f *fakeCouch) remove(db, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d := f.docs[db+"/"+id]; d != nil {
		d.gen++
		d.deleted = true
	}
}

func (f *fakeCouch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal_server_error", "reason": "down"})
		return
	}
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
	if len(parts) == 5 && parts[1] == "_design" && parts[3] == "_view" {
		f.view(w, r, parts[0])
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

// view answers the identities view queried by key, as the contract's map
// function emits it: for each namespace of a subject not blocked, [name]
// and [uuid, key] with {_id, namespace, uuid, key}.
func (f *fakeCouch) view(w http.ResponseWriter, r *http.Request, db string) {
	f.viewCalls++
	var key []string
	if err := json.Unmarshal([]byte(r.URL.Query().Get("key")), &key); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad_request", "reason": "key"})
		return
	}
	rows := []json.RawMessage{}
	for k, d := range f.docs {
		sdb, id, _ := strings.Cut(k, "/")
		if sdb != db || d.deleted {
			continue
		}
		doc := d.revs[d.rev()]
		if blocked, _ := doc["blocked"].(bool); blocked {
			continue
		}
		nss, _ := doc["namespaces"].([]any)
		for _, n := range nss {
			ns, _ := n.(map[string]any)
			name, _ := ns["name"].(string)
			uuid, _ := ns["uuid"].(string)
			secret, _ := ns["key"].(string)
			value := map[string]any{"_id": name + "/limits", "namespace": name}
			if uuid != "" {
				value["uuid"] = uuid
			}
			if secret != "" {
				value["key"] = secret
			}
			emit := func(k []string) {
				if strings.Join(k, "\x00") == strings.Join(key, "\x00") {
					b, _ := json.Marshal(map[string]any{"id": id, "key": k, "value": value})
					rows = append(rows, b)
				}
			}
			emit([]string{name})
			emit([]string{uuid, secret})
		}
	}
	if len(key) == 1 {
		rows = append(rows, f.rawRows[key[0]]...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_rows": len(rows), "offset": 0, "rows": rows})
}
