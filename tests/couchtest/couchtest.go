// Package couchtest gives integration tests of a package a real
// CouchDB-protocol server (the local stack's pouchdb-server), started once
// per test binary, and a fresh database name prefix per test so tests do not
// see each other's data.
package couchtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kivik/kivik/v4"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/deploy/local/couchdb"
)

var (
	once   sync.Once
	srv    *couchdb.Server
	srvErr error
	dir    string
	seq    atomic.Int64
)

// Main runs the package's tests and stops the server afterwards. Use it
// from TestMain: func TestMain(m *testing.M) { couchtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = srv.Stop(ctx)
		cancel()
	}
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
	os.Exit(code)
}

// URL returns the server's URL, starting it on first use. Without the
// pouchdb-server executable the test is skipped, except under CI (CI set),
// where that is a failure. With -short (make test-unit) every test that
// needs it is skipped: unit tests use registry.NewMemory instead.
func URL(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("couchtest: needs pouchdb-server; skipped with -short")
	}
	once.Do(func() {
		dir, srvErr = os.MkdirTemp("", "couchtest-")
		if srvErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		srv, srvErr = couchdb.Start(ctx, couchdb.Options{Dir: dir})
	})
	if srvErr != nil {
		if errors.Is(srvErr, couchdb.ErrBinaryNotFound) && os.Getenv("CI") == "" {
			t.Skipf("couchtest: %v", srvErr)
		}
		t.Fatalf("couchtest: start pouchdb-server: %v", srvErr)
	}
	return srv.URL()
}

// Server returns the running server (for fault tests that kill it).
func Server(t testing.TB) *couchdb.Server {
	URL(t)
	return srv
}

// Client returns a kivik client for the server.
func Client(t testing.TB) *kivik.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := couch.NewClient(ctx, URL(t), couch.ClientOptions{})
	if err != nil {
		t.Fatalf("couchtest: client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Prefix returns a database name prefix unique to this test.
func Prefix(t testing.TB) string {
	name := strings.ToLower(t.Name())
	var b strings.Builder
	for _, r := range name {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if len(s) > 40 {
		s = s[:40]
	}
	return fmt.Sprintf("t%d_%s_", seq.Add(1), s)
}

// DB creates (if needed) and returns database name.
func DB(t testing.TB, c *kivik.Client, name string) *kivik.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := couch.EnsureDB(ctx, c, name); err != nil {
		t.Fatalf("couchtest: create %s: %v", name, err)
	}
	return c.DB(name)
}
