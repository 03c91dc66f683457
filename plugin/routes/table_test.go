package routes

import (
	"context"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/fnmgr/fnmgr/plugin/registry"
)

// TestDecisiveIndex: the table knows, by function name, whether any
// namespace has an entry the Router may act on, through every change.
func TestDecisiveIndex(t *testing.T) {
	tb := New()
	steps := []struct {
		name      string
		fqn       string
		entry     *Entry
		wantHello bool // decisive("hello")
		wantPkg   bool // decisive("demo/hello")
		wantLen   int
	}{
		{"plain function", "guest/hello", &Entry{State: registry.Latest}, false, false, 1},
		{"blocked in another namespace", "other/hello", &Entry{State: registry.Blocked}, true, false, 2},
		{"aliases count too", "guest/hello", &Entry{State: registry.Published, Aliases: map[string][]registry.Route{"p": {{Version: 1, Weight: 100}}}}, true, false, 2},
		{"unblocked", "other/hello", &Entry{State: registry.Latest}, true, false, 2},
		{"alias removed", "guest/hello", &Entry{State: registry.Published}, false, false, 2},
		{"packaged retired", "guest/demo/hello", &Entry{State: registry.Retired}, false, true, 3},
		{"packaged purged", "guest/demo/hello", nil, false, false, 2},
		{"deleted", "other/hello", nil, false, false, 1},
		{"deleting again is harmless", "other/hello", nil, false, false, 1},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			tb.Set(s.fqn, s.entry)
			if got := tb.decisive("hello"); got != s.wantHello {
				t.Fatalf("decisive(hello) = %v", got)
			}
			if got := tb.decisive("demo/hello"); got != s.wantPkg {
				t.Fatalf("decisive(demo/hello) = %v", got)
			}
			if tb.Len() != s.wantLen {
				t.Fatalf("Len = %d, want %d", tb.Len(), s.wantLen)
			}
		})
	}
	if _, ok := tb.Lookup("guest", "hello"); !ok {
		t.Fatal("guest/hello lost")
	}
}

// TestResolveOnlyWhenDecisive: a call on "_" asks the Resolver (the
// subjects cache, a lock) only when the table may act on that name.
func TestResolveOnlyWhenDecisive(t *testing.T) {
	var calls atomic.Int32
	rt, err := NewRouter(testTable(), func(context.Context, string, string) (string, []string, error) {
		calls.Add(1)
		return "guest", []string{"guest"}, nil
	}, RouterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, method, path string
		wantCalls          int32
	}{
		{"plain function", "POST", "/api/v1/namespaces/_/actions/nope", 0},
		{"read of a blocked one", "GET", "/api/v1/namespaces/_/actions/blocked", 0},
		{"invocation of a blocked one", "POST", "/api/v1/namespaces/_/actions/blocked", 1},
		{"alias", "POST", "/api/v1/namespaces/_/actions/hello@prod", 1},
		{"web action with a trailing path", "GET", "/api/v1/web/_/demo/pkgd@dev.http/a/b", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls.Store(0)
			r := httptest.NewRequest(c.method, c.path, nil)
			r.SetBasicAuth("u", "k")
			d := rt.Route(r)
			if calls.Load() != c.wantCalls {
				t.Fatalf("resolver called %d times, want %d (decision %+v)", calls.Load(), c.wantCalls, d)
			}
		})
	}
	r := httptest.NewRequest("GET", "/api/v1/web/guest/demo/pkgd@dev.http/a/b?x=1", nil)
	if d := rt.Route(r); d.Path != "/api/v1/web/guest/demo/pkgd@3.http/a/b" {
		t.Fatalf("rewrite keeps the trailing path: %+v", d)
	}
}
