package subjects

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kivik/kivik/v4"
	_ "github.com/go-kivik/kivik/v4/couchdb" // the "couch" driver
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
)

const subjectsDB = "whisk_local_subjects"

// fakeSubjectsDB serves the requests a Source makes of a subjects
// database: OpenWhisk's identities view queried by [uuid, key] or by
// [namespace] (rows for every namespace of a subject that is not blocked,
// as auth_design_document_for_subjects_db_v2.0.0.json emits them), and a
// subject document.
type fakeSubjectsDB struct {
	mu       sync.Mutex
	subjects map[string]entity.Subject
	rawRows  map[string][]json.RawMessage // extra rows of a [namespace] query
	down     atomic.Bool
	queries  atomic.Int32
}

func (f *fakeSubjectsDB) set(id string, s entity.Subject) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subjects[id] = s
}

func (f *fakeSubjectsDB) remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subjects, id)
}

func (f *fakeSubjectsDB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.down.Load() {
		http.Error(w, `{"error":"internal_server_error","reason":"down"}`, http.StatusInternalServerError)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	const db = "/" + subjectsDB + "/"
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == db+designDoc+"/_view/"+identitiesView:
		f.queries.Add(1)
		var key []string
		if err := json.Unmarshal([]byte(r.URL.Query().Get("key")), &key); err != nil || len(key) < 1 || len(key) > 2 {
			http.Error(w, `{"error":"bad_request"}`, http.StatusBadRequest)
			return
		}
		rows := []json.RawMessage{}
		for id, s := range f.subjects {
			for _, ns := range s.Namespaces {
				if s.Blocked || (len(key) == 1 && ns.Name != key[0]) || (len(key) == 2 && (ns.UUID != key[0] || ns.Key != key[1])) {
					continue
				}
				value := map[string]any{"_id": ns.Name + "/limits", "namespace": ns.Name, "uuid": ns.UUID, "key": ns.Key}
				row, _ := json.Marshal(map[string]any{"id": id, "key": key, "value": value})
				rows = append(rows, row)
			}
		}
		if len(key) == 1 {
			rows = append(rows, f.rawRows[key[0]]...)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"total_rows": len(rows), "offset": 0, "rows": rows})
	case strings.HasPrefix(r.URL.Path, db):
		id := strings.TrimPrefix(r.URL.Path, db)
		s, ok := f.subjects[id]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"not_found","reason":"missing"}`))
			return
		}
		s.ID, s.Rev = id, "1-abc"
		_ = json.NewEncoder(w).Encode(s)
	default:
		http.NotFound(w, r)
	}
}

func subject(name, uuid, key string, blocked bool) entity.Subject {
	return entity.Subject{Subject: name, Blocked: blocked,
		Namespaces: []entity.SubjectNamespace{{Name: name, UUID: uuid, Key: key}}}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newSource serves f over HTTP and reads it with o.
func newSource(t *testing.T, f *fakeSubjectsDB, o Options) *Source {
	t.Helper()
	if f.subjects == nil {
		f.subjects = map[string]entity.Subject{}
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	client, err := kivik.New("couch", srv.URL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	src, err := New(client.DB(subjectsDB), o)
	require.NoError(t, err)
	return src
}

func TestIdentify(t *testing.T) {
	f := &fakeSubjectsDB{subjects: map[string]entity.Subject{
		"guest": {Subject: "guest", Namespaces: []entity.SubjectNamespace{
			{Name: "guest", UUID: "u1", Key: "k1"},
			{Name: "guest-two", UUID: "u2", Key: "k2"},
		}},
		"blocked": subject("b", "ub", "kb", true),
	}}
	src := newSource(t, f, Options{TTL: time.Minute})
	for _, tc := range []struct {
		name, uuid, key string
		want            Identity
		wantErr         error
	}{
		{"key", "u1", "k1", Identity{Subject: "guest", Namespace: "guest", Namespaces: []string{"guest", "guest-two"}}, nil},
		{"second namespace's key", "u2", "k2", Identity{Subject: "guest", Namespace: "guest-two", Namespaces: []string{"guest", "guest-two"}}, nil},
		{"wrong key", "u1", "nope", Identity{}, ErrUnknownKey},
		{"unknown uuid", "nobody", "k1", Identity{}, ErrUnknownKey},
		{"blocked subject", "ub", "kb", Identity{}, ErrUnknownKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := src.Identify(context.Background(), tc.uuid, tc.key)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, id)
		})
	}
}

// lookups are the Source's two reads of the same key of subject alice
// (namespace alice, key u1:k1).
var lookups = []struct {
	name    string
	notHeld error
	get     func(ctx context.Context, s *Source) error
}{
	{"identify", ErrUnknownKey, func(ctx context.Context, s *Source) error {
		id, err := s.Identify(ctx, "u1", "k1")
		if err == nil && id.Namespace != "alice" {
			return errors.New("wrong identity")
		}
		return err
	}},
	{"key for", ErrNoKey, func(ctx context.Context, s *Source) error {
		key, err := s.KeyFor(ctx, "alice")
		if err == nil && key != "u1:k1" {
			return errors.New("the key changed")
		}
		return err
	}},
}

// TestRevokedWithinTheExpiry: both lookups remember a key for exactly the
// expiry; after it a deleted, blocked or rotated key is refused at once,
// so with the default expiry a revocation takes effect within 25 s plus
// one lookup.
func TestRevokedWithinTheExpiry(t *testing.T) {
	for _, lookup := range lookups {
		for _, revoke := range []struct {
			name string
			do   func(f *fakeSubjectsDB)
		}{
			{"deleted", func(f *fakeSubjectsDB) { f.remove("alice") }},
			{"blocked", func(f *fakeSubjectsDB) { f.set("alice", subject("alice", "u1", "k1", true)) }},
			{"rotated", func(f *fakeSubjectsDB) { f.set("alice", subject("alice", "u1", "k2", false)) }},
		} {
			t.Run(lookup.name+"/"+revoke.name, func(t *testing.T) {
				f := &fakeSubjectsDB{subjects: map[string]entity.Subject{"alice": subject("alice", "u1", "k1", false)}}
				clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
				src := newSource(t, f, Options{Now: clock.Now}) // the default expiry
				ctx := context.Background()
				require.NoError(t, lookup.get(ctx, src))
				revoke.do(f)
				clock.Add(DefaultTTL - time.Millisecond)
				require.NoError(t, lookup.get(ctx, src), "remembered until the expiry")
				require.EqualValues(t, 1, f.queries.Load(), "the view is read once within the expiry")
				clock.Add(time.Millisecond)
				err := lookup.get(ctx, src)
				if revoke.name == "rotated" && lookup.name == "key for" {
					require.EqualError(t, err, "the key changed", "the rotated key is read")
					return
				}
				require.ErrorIs(t, err, lookup.notHeld, "refused %v after it was read", DefaultTTL)
				require.NotContains(t, err.Error(), "k1")
			})
		}
	}
}

// TestCouchDBDownRefuses: a lookup the database cannot answer fails with
// an error that is not "no such key" (the admin API answers 503, not 401)
// and holds no key; what was read before is used only until its expiry.
func TestCouchDBDownRefuses(t *testing.T) {
	for _, lookup := range lookups {
		t.Run(lookup.name, func(t *testing.T) {
			f := &fakeSubjectsDB{subjects: map[string]entity.Subject{"alice": subject("alice", "u1", "k1", false)}}
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			src := newSource(t, f, Options{TTL: time.Minute, Now: clock.Now})
			ctx := context.Background()
			require.NoError(t, lookup.get(ctx, src))
			f.down.Store(true)
			require.NoError(t, lookup.get(ctx, src), "remembered while the database is down")
			clock.Add(time.Minute)
			err := lookup.get(ctx, src)
			require.Error(t, err)
			require.NotErrorIs(t, err, lookup.notHeld, "a database failure is not a missing key: %v", err)
			require.NotContains(t, err.Error(), "k1")
			f.down.Store(false)
			require.NoError(t, lookup.get(ctx, src), "a failure is not remembered")
		})
	}
}

// TestUnreachableHidesKey: the view is queried by [uuid, key], so a
// transport error's URL holds the key; the error (which the admin API and
// the gateway log) must not.
func TestUnreachableHidesKey(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	client, err := kivik.New("couch", u)
	require.NoError(t, err)
	src, err := New(client.DB(subjectsDB), Options{})
	require.NoError(t, err)
	_, err = src.Identify(context.Background(), "u1", "secret-k1")
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrUnknownKey)
	require.NotContains(t, err.Error(), "secret-k1")
	require.Contains(t, err.Error(), "identities view")
}

func TestForgetAndNoCache(t *testing.T) {
	f := &fakeSubjectsDB{subjects: map[string]entity.Subject{"alice": subject("alice", "u1", "k1", false)}}
	src := newSource(t, f, Options{})
	ctx := context.Background()
	for range 2 {
		_, err := src.KeyFor(ctx, "alice")
		require.NoError(t, err)
		_, err = src.Identify(ctx, "u1", "k1")
		require.NoError(t, err)
	}
	require.EqualValues(t, 2, f.queries.Load(), "default expiry: one view query per lookup")
	f.set("alice", subject("alice", "u1", "k2", false))
	src.Forget("alice")
	key, err := src.KeyFor(ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, "u1:k2", key, "after Forget the rotated key is read")

	none := newSource(t, f, Options{TTL: -1})
	before := f.queries.Load()
	for range 2 {
		_, err := none.KeyFor(ctx, "alice")
		require.NoError(t, err)
		_, err = none.Identify(ctx, "u1", "k2")
		require.NoError(t, err)
	}
	require.EqualValues(t, 4, f.queries.Load()-before, "no cache: every lookup reads the view")
}

// TestUndecodableSubjects: a row of the view that holds no key is skipped,
// but logged (by subject, never with a key) and counted; the namespace's
// valid row is still used.
func TestUndecodableSubjects(t *testing.T) {
	f := &fakeSubjectsDB{
		subjects: map[string]entity.Subject{"broken": {Subject: "broken",
			Namespaces: []entity.SubjectNamespace{{Name: "shared", UUID: "u0"}}}}, // no key
		rawRows: map[string][]json.RawMessage{"shared": {json.RawMessage(`{"id":"weird","key":["shared"],"value":"not an object"}`)}},
	}
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	src := newSource(t, f, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: reg})
	ctx := context.Background()
	_, err := src.KeyFor(ctx, "shared")
	require.ErrorIs(t, err, ErrNoKey)
	require.Equal(t, 2.0, testutil.ToFloat64(src.undecodable))
	for _, want := range []string{"subject=broken", "subject=weird", "cannot be decoded"} {
		require.Contains(t, logs.String(), want)
	}
	f.set("good", subject("shared", "u3", "secret-k3", false))
	key, err := src.KeyFor(ctx, "shared")
	require.NoError(t, err)
	require.Equal(t, "u3:secret-k3", key, "the decodable subject's key")
	require.NotContains(t, logs.String(), "secret-k3")
}
