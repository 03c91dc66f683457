package openwhisk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fnmgr/fnmgr/couch/entity"
)

const subjectsDB = "whisk_local_subjects"

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

func subject(name, uuid, key string, blocked bool) entity.Subject {
	return entity.Subject{Subject: name, Blocked: blocked,
		Namespaces: []entity.SubjectNamespace{{Name: name, UUID: uuid, Key: key}}}
}

// TestKeysFollowTheSubjectsDatabase: a key is read through the identities
// view by namespace and used until it expires; after that a deleted,
// blocked or rotated subject is seen at once, as the admin API's
// authenticator sees it.
func TestKeysFollowTheSubjectsDatabase(t *testing.T) {
	const ttl = 25 * time.Second
	cases := []struct {
		name    string
		change  func(t *testing.T, f *fakeCouch)
		want    string // the key after expiry; "" for ErrNoKey
		wantErr error
	}{
		{"unchanged", func(*testing.T, *fakeCouch) {}, "u1:k1", nil},
		{"rotated", func(t *testing.T, f *fakeCouch) {
			f.setDoc(t, subjectsDB, "alice", subject("alice", "u1", "k2", false))
		}, "u1:k2", nil},
		{"blocked", func(t *testing.T, f *fakeCouch) { f.setDoc(t, subjectsDB, "alice", subject("alice", "u1", "k1", true)) }, "", ErrNoKey},
		{"deleted", func(_ *testing.T, f *fakeCouch) { f.remove(subjectsDB, "alice") }, "", ErrNoKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, client := newFakeCouch(t)
			f.setDoc(t, subjectsDB, "alice", subject("alice", "u1", "k1", false))
			f.setDoc(t, subjectsDB, "bob", subject("bob", "u2", "k9", false))
			clock := &fakeClock{now: time.Unix(1000, 0)}
			k, err := NewKeys(client.DB(subjectsDB), KeysOptions{TTL: ttl, Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			got, err := k.KeyFor(ctx, "alice")
			if err != nil || got != "u1:k1" {
				t.Fatalf("KeyFor = %q, %v", got, err)
			}
			c.change(t, f)
			clock.Add(ttl - time.Millisecond)
			if got, err := k.KeyFor(ctx, "alice"); err != nil || got != "u1:k1" {
				t.Fatalf("within the expiry: KeyFor = %q, %v; want the cached key", got, err)
			}
			if f.viewCalls != 1 {
				t.Fatalf("the view was queried %d times within the expiry", f.viewCalls)
			}
			clock.Add(time.Millisecond)
			got, err = k.KeyFor(ctx, "alice")
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("after the expiry: KeyFor = %q, %v; want %v", got, err, c.wantErr)
				}
				if strings.Contains(err.Error(), "k1") {
					t.Fatalf("the error shows the key: %v", err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("after the expiry: KeyFor = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestKeysForgetAndNoCache(t *testing.T) {
	f, client := newFakeCouch(t)
	f.setDoc(t, subjectsDB, "alice", subject("alice", "u1", "k1", false))
	ctx := context.Background()
	k, err := NewKeys(client.DB(subjectsDB), KeysOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = k.KeyFor(ctx, "alice")
	_, _ = k.KeyFor(ctx, "alice")
	if f.viewCalls != 1 {
		t.Fatalf("default expiry: %d view queries for two calls", f.viewCalls)
	}
	f.setDoc(t, subjectsDB, "alice", subject("alice", "u1", "k2", false))
	k.Forget("alice")
	if got, _ := k.KeyFor(ctx, "alice"); got != "u1:k2" {
		t.Fatalf("after Forget: %q, want the rotated key", got)
	}

	none, err := NewKeys(client.DB(subjectsDB), KeysOptions{TTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	before := f.viewCalls
	_, _ = none.KeyFor(ctx, "alice")
	_, _ = none.KeyFor(ctx, "alice")
	if f.viewCalls-before != 2 {
		t.Fatalf("no cache: %d view queries for two calls", f.viewCalls-before)
	}
}

// TestKeysUndecodableSubjects: a row of the view that holds no key is
// skipped, but logged (by subject, never with a key) and counted; the
// namespace's valid row is still used.
func TestKeysUndecodableSubjects(t *testing.T) {
	f, client := newFakeCouch(t)
	f.setDoc(t, subjectsDB, "broken", map[string]any{"subject": "broken",
		"namespaces": []any{map[string]any{"name": "shared", "uuid": "u0"}}}) // no key
	f.rawRows = map[string][]json.RawMessage{"shared": {json.RawMessage(`{"id":"weird","key":["shared"],"value":"not an object"}`)}}
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	k, err := NewKeys(client.DB(subjectsDB), KeysOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := k.KeyFor(ctx, "shared"); !errors.Is(err, ErrNoKey) {
		t.Fatalf("KeyFor = %v, want ErrNoKey", err)
	}
	if n := testutil.ToFloat64(k.undecodable); n != 2 {
		t.Fatalf("fnmgr_subjects_undecodable_total = %v, want 2", n)
	}
	for _, want := range []string{"subject=broken", "subject=weird", "cannot be decoded"} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("the log lacks %q:\n%s", want, logs.String())
		}
	}
	f.setDoc(t, subjectsDB, "good", subject("shared", "u3", "secret-k3", false))
	if got, err := k.KeyFor(ctx, "shared"); err != nil || got != "u3:secret-k3" {
		t.Fatalf("KeyFor = %q, %v; want the decodable subject's key", got, err)
	}
	if strings.Contains(logs.String(), "secret-k3") {
		t.Fatal("the log holds a key")
	}
}

func TestKeysCouchDBDown(t *testing.T) {
	f, client := newFakeCouch(t)
	f.down = true
	k, err := NewKeys(client.DB(subjectsDB), KeysOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.KeyFor(context.Background(), "alice")
	if err == nil || errors.Is(err, ErrNoKey) {
		t.Fatalf("KeyFor = %v, want a read error that is not ErrNoKey", err)
	}
}
