package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kivik/kivik/v4"
	_ "github.com/go-kivik/kivik/v4/couchdb" // the "couch" driver
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// fakeSubjectsDB serves the two requests SubjectsAuthenticator makes: the
// identities view queried by key, and the subject document.
type fakeSubjectsDB struct {
	subjects map[string]entity.Subject
	down     atomic.Bool
	queries  atomic.Int32
}

func (f *fakeSubjectsDB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.down.Load() {
		http.Error(w, `{"error":"internal_server_error","reason":"down"}`, http.StatusInternalServerError)
		return
	}
	const db = "/whisk_local_subjects/"
	switch {
	case r.URL.Path == db+"_design/subjects.v2.0.0/_view/identities":
		f.queries.Add(1)
		var key []string
		if err := json.Unmarshal([]byte(r.URL.Query().Get("key")), &key); err != nil || len(key) != 2 {
			http.Error(w, `{"error":"bad_request"}`, http.StatusBadRequest)
			return
		}
		type row struct {
			ID  string   `json:"id"`
			Key []string `json:"key"`
		}
		rows := []row{}
		for id, s := range f.subjects {
			for _, ns := range s.Namespaces {
				if !s.Blocked && ns.UUID == key[0] && ns.Key == key[1] {
					rows = append(rows, row{ID: id, Key: key})
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"total_rows": len(rows), "offset": 0, "rows": rows})
	case strings.HasPrefix(r.URL.Path, db):
		s, ok := f.subjects[strings.TrimPrefix(r.URL.Path, db)]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"not_found","reason":"missing"}`))
			return
		}
		s.ID, s.Rev = strings.TrimPrefix(r.URL.Path, db), "1-abc"
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s)
	default:
		http.NotFound(w, r)
	}
}

func newSubjectsFixture(t *testing.T, now func() time.Time) (*fakeSubjectsDB, *SubjectsAuthenticator) {
	t.Helper()
	f := &fakeSubjectsDB{subjects: map[string]entity.Subject{
		"guest": {Subject: "guest", Namespaces: []entity.SubjectNamespace{
			{Name: "guest", UUID: guestUUID, Key: guestKey},
			{Name: "guest-two", UUID: "u2", Key: "k2"},
		}},
		"blocked": {Subject: "blocked", Blocked: true, Namespaces: []entity.SubjectNamespace{{Name: "b", UUID: "ub", Key: "kb"}}},
	}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	client, err := kivik.New("couch", srv.URL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	return f, NewSubjectsAuthenticator(client.DB("whisk_local_subjects"), SubjectsOptions{CacheTTL: time.Minute, Now: now})
}

func TestSubjectsAuthenticator(t *testing.T) {
	_, auth := newSubjectsFixture(t, nil)
	tests := []struct {
		name, uuid, key string
		want            Identity
		wantErr         error
	}{
		{"guest key", guestUUID, guestKey, Identity{Subject: "guest", Namespace: "guest", Namespaces: []string{"guest", "guest-two"}}, nil},
		{"second namespace key", "u2", "k2", Identity{Subject: "guest", Namespace: "guest-two", Namespaces: []string{"guest", "guest-two"}}, nil},
		{"wrong key", guestUUID, "nope", Identity{}, ErrUnauthenticated},
		{"unknown uuid", "nobody", guestKey, Identity{}, ErrUnauthenticated},
		{"blocked subject", "ub", "kb", Identity{}, ErrUnauthenticated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := auth.Authenticate(context.Background(), tc.uuid, tc.key)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, id)
		})
	}
}

func TestSubjectsAuthenticatorCachesAndFails(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	f, auth := newSubjectsFixture(t, func() time.Time { return now })
	ctx := context.Background()

	_, err := auth.Authenticate(ctx, guestUUID, guestKey)
	require.NoError(t, err)
	_, err = auth.Authenticate(ctx, guestUUID, guestKey)
	require.NoError(t, err)
	require.EqualValues(t, 1, f.queries.Load(), "the second lookup comes from the cache")

	f.down.Store(true)
	_, err = auth.Authenticate(ctx, guestUUID, guestKey)
	require.NoError(t, err, "cached while the database is down")

	now = now.Add(2 * time.Minute)
	_, err = auth.Authenticate(ctx, guestUUID, guestKey)
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrUnauthenticated), "a database failure is not a bad key: %v", err)
	require.NotContains(t, err.Error(), guestKey)
}

// TestSubjectsAuthenticatorDefaultExpiry: with the default expiry a
// deleted subject's key is refused 25 s after it was read, so that with
// the time to notice it stays within the 30 s a revocation may take.
func TestSubjectsAuthenticatorDefaultExpiry(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	f := &fakeSubjectsDB{subjects: map[string]entity.Subject{
		"guest": {Subject: "guest", Namespaces: []entity.SubjectNamespace{{Name: "guest", UUID: guestUUID, Key: guestKey}}},
	}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	client, err := kivik.New("couch", srv.URL)
	require.NoError(t, err)
	auth := NewSubjectsAuthenticator(client.DB("whisk_local_subjects"), SubjectsOptions{Now: func() time.Time { return now }})
	ctx := context.Background()
	_, err = auth.Authenticate(ctx, guestUUID, guestKey)
	require.NoError(t, err)
	delete(f.subjects, "guest")
	now = now.Add(25*time.Second - time.Millisecond)
	_, err = auth.Authenticate(ctx, guestUUID, guestKey)
	require.NoError(t, err, "cached until the expiry")
	now = now.Add(time.Millisecond)
	_, err = auth.Authenticate(ctx, guestUUID, guestKey)
	require.ErrorIs(t, err, ErrUnauthenticated, "refused 25 s after it was read")
}

// TestSubjectsAuthenticatorUnreachableHidesKey: the view is queried by
// [uuid, key], so a transport error's URL holds the key; the error (which
// the admin API and the gateway log) must not.
func TestSubjectsAuthenticatorUnreachableHidesKey(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	client, err := kivik.New("couch", u)
	require.NoError(t, err)
	auth := NewSubjectsAuthenticator(client.DB("whisk_local_subjects"), SubjectsOptions{})
	_, err = auth.Authenticate(context.Background(), guestUUID, guestKey)
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrUnauthenticated))
	require.NotContains(t, err.Error(), guestKey)
	require.Contains(t, err.Error(), "identities view")
}
