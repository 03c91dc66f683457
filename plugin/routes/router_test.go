package routes

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

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
		return "", nil, errors.New("unknown")
	}
	rt := NewRouter(testTable(), resolve)
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
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.path, nil)
			if c.auth != "" {
				r.SetBasicAuth(c.auth, "k")
			}
			d := rt.Route(r)
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
