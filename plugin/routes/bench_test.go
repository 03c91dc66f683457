package routes

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/fnmgr/fnmgr/plugin/registry"
)

// BenchmarkRoute is the Router on the gateway's request path, over a table
// of 1000 functions: it should take well under a microsecond and allocate
// nothing for a plain call.
func BenchmarkRoute(b *testing.B) {
	table := New()
	for i := range 1000 {
		table.Set(fmt.Sprintf("guest/fn%d", i), &Entry{State: registry.Published})
	}
	table.Set("guest/hello", &Entry{State: registry.Published, Aliases: map[string][]registry.Route{
		"ab": {{Version: 1, Weight: 90}, {Version: 2, Weight: 10}}}})
	rt, err := NewRouter(table, func(context.Context, string, string) (string, []string, error) {
		return "guest", []string{"guest"}, nil
	}, RouterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, path string }{
		{"own namespace, no decision", "/api/v1/namespaces/_/actions/fn5?blocking=true"},
		{"own namespace, alias", "/api/v1/namespaces/_/actions/hello@ab?blocking=true"},
		{"named namespace", "/api/v1/namespaces/guest/actions/fn5?blocking=true"},
		{"unknown function", "/api/v1/namespaces/guest/actions/nope"},
	} {
		r := httptest.NewRequest("POST", c.path, nil)
		r.SetBasicAuth("u", "k")
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rt.Route(r)
			}
		})
	}
}
