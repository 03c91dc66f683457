package routes

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fnmgr/fnmgr/plugin/registry"
)

func testTable() *Table {
	t := New()
	t.Set("guest/hello", &Entry{State: registry.Published, Aliases: map[string][]registry.Route{
		"prod": {{Version: 2, Weight: 100}},
		"ab":   {{Version: 1, Weight: 90}, {Version: 2, Weight: 10}},
	}})
	t.Set("guest/blocked", &Entry{State: registry.Blocked})
	t.Set("guest/updating", &Entry{State: registry.Updating})
	t.Set("guest/old", &Entry{State: registry.Retired})
	t.Set("guest/demo/pkgd", &Entry{State: registry.Latest, Aliases: map[string][]registry.Route{"dev": {{Version: 3, Weight: 100}}}})
	return t
}

func TestRoute(t *testing.T) {
	resolve := func(_ context.Context, uuid, key string) (string, []string, error) {
		switch {
		case uuid == "u" && key == "k":
			return "guest", []string{"guest"}, nil
		case uuid == "o" && key == "k":
			return "other", []string{"other"}, nil
		}
		return "", nil, fmt.Errorf("%w: test", ErrUnknownCredentials)
	}
	rt, err := NewRouter(testTable(), resolve, RouterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		method     string
		path       string
		auth       string // "u" the guest, "o" another namespace, "" none
		wantStatus int
		wantPath   string
	}{
		{"plain invoke passes", "POST", "/api/v1/namespaces/guest/actions/hello", "u", 0, ""},
		{"alias resolved", "POST", "/api/v1/namespaces/guest/actions/hello@prod", "u", 0, "/api/v1/namespaces/guest/actions/hello@2"},
		{"alias with _ namespace", "POST", "/api/v1/namespaces/_/actions/hello@prod", "u", 0, "/api/v1/namespaces/_/actions/hello@2"},
		{"version passes", "POST", "/api/v1/namespaces/guest/actions/hello@1", "u", 0, ""},
		{"get of alias passes", "GET", "/api/v1/namespaces/guest/actions/hello@prod", "u", 0, ""},
		{"blocked invoke", "POST", "/api/v1/namespaces/guest/actions/blocked", "u", 423, ""},
		{"blocked version invoke", "POST", "/api/v1/namespaces/guest/actions/blocked@1", "u", 423, ""},
		{"blocked write", "PUT", "/api/v1/namespaces/guest/actions/blocked", "u", 423, ""},
		{"blocked get passes", "GET", "/api/v1/namespaces/guest/actions/blocked", "u", 0, ""},
		{"blocked via _", "POST", "/api/v1/namespaces/_/actions/blocked", "u", 423, ""},
		{"updating invoke", "POST", "/api/v1/namespaces/guest/actions/updating", "u", 423, ""},
		{"retired invoke", "POST", "/api/v1/namespaces/guest/actions/old", "u", 410, ""},
		{"retired delete", "DELETE", "/api/v1/namespaces/guest/actions/old", "u", 410, ""},
		{"blocked web action (public)", "GET", "/api/v1/web/guest/default/blocked.json", "", 423, ""},
		{"packaged alias", "POST", "/api/v1/namespaces/guest/actions/demo/pkgd@dev", "u", 0, "/api/v1/namespaces/guest/actions/demo/pkgd@3"},
		{"web alias keeps extension", "GET", "/api/v1/web/guest/demo/pkgd@dev.json", "", 0, "/api/v1/web/guest/demo/pkgd@3.json"},
		{"unknown function passes", "POST", "/api/v1/namespaces/guest/actions/nope", "u", 0, ""},
		{"list passes", "GET", "/api/v1/namespaces/guest/actions", "u", 0, ""},
		{"triggers pass", "POST", "/api/v1/namespaces/guest/triggers/t", "u", 0, ""},
		// Isolation: only callers entitled to the namespace learn its
		// functions' states or routes; the controller answers the others.
		{"another namespace's key: no refusal", "POST", "/api/v1/namespaces/guest/actions/blocked", "o", 0, ""},
		{"another namespace's key: no alias routing", "POST", "/api/v1/namespaces/guest/actions/hello@prod", "o", 0, ""},
		{"no credentials: no refusal", "POST", "/api/v1/namespaces/guest/actions/old", "", 0, ""},
		{"unknown credentials: the controller answers 401", "POST", "/api/v1/namespaces/guest/actions/old", "x", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.path, nil)
			if c.auth != "" {
				r.SetBasicAuth(c.auth, "k")
			}
			d := rt.Route(r)
			if d.Status != 0 && d.RetryAfter != 0 {
				t.Fatalf("a lifecycle refusal sent Retry-After %d", d.RetryAfter)
			}
			if d.Status != c.wantStatus || d.Path != c.wantPath {
				t.Fatalf("Route = %+v, want status %d path %q", d, c.wantStatus, c.wantPath)
			}
			if d.Status != 0 && d.Message == "" {
				t.Fatal("a refusal must say why")
			}
		})
	}
}

func TestPickSplitsByWeight(t *testing.T) {
	routing := []registry.Route{{Version: 1, Weight: 90}, {Version: 2, Weight: 10}}
	n := map[int]int{}
	for range 10000 {
		n[Pick(routing)]++
	}
	if n[1] < 8700 || n[1] > 9300 {
		t.Fatalf("90/10 routing gave %v", n)
	}
}

func TestObserveKeepsTableCurrent(t *testing.T) {
	tb := New()
	doc := []byte(`{"_id":"f:guest/x","type":"function","namespace":"guest","name":"x","state":"BLOCKED","aliases":{"p":{"routing":[{"version":1,"weight":100}]}}}`)
	_ = tb.Observe(context.Background(), changeOf("f:guest/x", doc, false))
	e, ok := tb.Lookup("guest", "x")
	if !ok || e.State != registry.Blocked || e.Aliases["p"][0].Version != 1 {
		t.Fatalf("entry %+v %v", e, ok)
	}
	_ = tb.Observe(context.Background(), changeOf("r:guest/x:0000000001", []byte(`{}`), false))
	_ = tb.Observe(context.Background(), changeOf("f:guest/x", nil, true))
	if _, ok := tb.Lookup("guest", "x"); ok {
		t.Fatal("deleted function still routed")
	}
	_ = http.StatusOK
}

// TestRouteWhenLookupFails: a caller whose credentials cannot be checked
// (CouchDB down, the 2 s lookup timeout) is refused with 503 and a
// Retry-After by default, on every path the table could act on, and let
// through only with FailOpen, counted and logged without the key.
func TestRouteWhenLookupFails(t *testing.T) {
	const secret = "s3cr3t-key-never-logged"
	failing := func(ctx context.Context, _, _ string) (string, []string, error) {
		return "", nil, fmt.Errorf("admin: query subjects: %w", context.DeadlineExceeded)
	}
	paths := []struct{ name, method, path string }{
		{"invoke of a blocked function", "POST", "/api/v1/namespaces/guest/actions/blocked"},
		{"invoke on _", "POST", "/api/v1/namespaces/_/actions/old"},
		{"alias", "POST", "/api/v1/namespaces/guest/actions/hello@prod"},
		{"write of an updating function", "PUT", "/api/v1/namespaces/guest/actions/updating"},
		{"a runnable function the table knows", "POST", "/api/v1/namespaces/guest/actions/hello"},
	}
	for _, mode := range []struct {
		name       string
		failOpen   bool
		wantStatus int
		wantLabel  string
	}{
		{"default: fail closed", false, http.StatusServiceUnavailable, "refused"},
		{"fail open", true, 0, "passed"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			var logs bytes.Buffer
			reg := prometheus.NewRegistry()
			rt, err := NewRouter(testTable(), failing, RouterOptions{FailOpen: mode.failOpen,
				Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range paths {
				r := httptest.NewRequest(p.method, p.path, nil)
				r.SetBasicAuth("u", secret)
				d := rt.Route(r)
				if d.Status != mode.wantStatus || d.Path != "" {
					t.Fatalf("%s: Route = %+v, want status %d and no routing", p.name, d, mode.wantStatus)
				}
				if mode.wantStatus != 0 && (d.RetryAfter <= 0 || !strings.Contains(d.Message, "could not check")) {
					t.Fatalf("%s: refusal %+v lacks a Retry-After or a clear message", p.name, d)
				}
			}
			if got := testutil.ToFloat64(rt.failures.WithLabelValues(mode.wantLabel)); got != float64(len(paths)) {
				t.Fatalf("credential_lookup_failures_total{action=%q} = %v, want %d", mode.wantLabel, got, len(paths))
			}
			if n := strings.Count(logs.String(), "credential lookup failed"); n != len(paths) {
				t.Fatalf("%d log lines for %d failures:\n%s", n, len(paths), logs.String())
			}
			if strings.Contains(logs.String(), secret) {
				t.Fatal("the log holds the caller's key")
			}
		})
	}
	t.Run("unknown credentials are not a failure", func(t *testing.T) {
		rt, err := NewRouter(testTable(), func(context.Context, string, string) (string, []string, error) {
			return "", nil, fmt.Errorf("wrapped: %w", ErrUnknownCredentials)
		}, RouterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("POST", "/api/v1/namespaces/guest/actions/blocked", nil)
		r.SetBasicAuth("u", "wrong")
		if d := rt.Route(r); d.Status != 0 {
			t.Fatalf("Route = %+v, want the controller to answer 401", d)
		}
	})
}
