package controller

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEntityRoutesWithoutServices: packages, triggers and rules route
// their names and methods alike, and each answers other methods with
// OpenWhisk's 405 listing its own methods in order.
func TestEntityRoutesWithoutServices(t *testing.T) {
	c := bareController(t)
	id := &identity{Namespace: "guest"}
	routes := map[string]func(http.ResponseWriter, *http.Request, *identity, string, []string) error{
		"packages": c.packages, "triggers": c.triggers, "rules": c.rules,
	}
	cases := []struct {
		name, collection, method string
		sub                      []string
		status                   int
		msg                      string
	}{
		{"package method", "packages", http.MethodPatch, []string{"p"}, 405, "HTTP method not allowed, supported methods: GET, PUT, DELETE"},
		{"package POST", "packages", http.MethodPost, []string{"p"}, 405, "HTTP method not allowed, supported methods: GET, PUT, DELETE"},
		{"trigger method", "triggers", http.MethodPatch, []string{"t"}, 405, "HTTP method not allowed, supported methods: GET, PUT, DELETE, POST"},
		{"rule method", "rules", http.MethodPatch, []string{"r"}, 405, "HTTP method not allowed, supported methods: GET, PUT, DELETE, POST"},
		{"collection write", "rules", http.MethodPut, nil, 405, "HTTP method not allowed, supported methods: GET"},
		{"collection write, trailing slash", "triggers", http.MethodDelete, []string{""}, 405, "HTTP method not allowed, supported methods: GET"},
		{"name, trailing slash", "packages", http.MethodPatch, []string{"p", ""}, 405, "HTTP method not allowed, supported methods: GET, PUT, DELETE"},
		{"too deep", "packages", http.MethodGet, []string{"p", "x"}, 404, msgNoRouteFound},
		{"too deep rule", "rules", http.MethodGet, []string{"r", "x", "y"}, 404, msgNoRouteFound},
		{"bad name", "triggers", http.MethodGet, []string{"-t"}, 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/", nil)
			err := routes[tc.collection](httptest.NewRecorder(), r, id, "guest", tc.sub)
			ae := asAPIError(err)
			require.NotNil(t, ae, "err %v", err)
			require.Equal(t, tc.status, ae.status, "err %v", err)
			if tc.msg != "" {
				require.Equal(t, tc.msg, ae.msg)
			}
		})
	}
}

// TestRouteEntitiesHandsOverTheName: a name reaches its method's handler
// as ns/name.
func TestRouteEntitiesHandsOverTheName(t *testing.T) {
	c := bareController(t)
	var got []string
	h := func(method string) entityHandler {
		return entityHandler{method, func(_ http.ResponseWriter, _ *http.Request, f fqn) error {
			got = append(got, method+" "+f.Path+"/"+f.Name)
			return nil
		}}
	}
	for _, m := range []string{http.MethodDelete, http.MethodGet, http.MethodPut} {
		err := c.routeEntities(httptest.NewRecorder(), httptest.NewRequest(m, "/", nil), "guest", []string{"x", ""}, "things", nil,
			h(http.MethodGet), h(http.MethodPut), h(http.MethodDelete))
		require.NoError(t, err)
	}
	require.Equal(t, []string{"DELETE guest/x", "GET guest/x", "PUT guest/x"}, got)
}

func TestNextVersion(t *testing.T) {
	cases := []struct {
		put, old string
		found    bool
		want     string
	}{
		{"", "", false, "0.0.1"},
		{"1.2.3", "", false, "1.2.3"},
		{"", "0.0.1", true, "0.0.2"},
		{"", "1.9.9", true, "1.9.10"},
		{"", "not-semver", true, "0.0.1"},
		{"2.0.0", "1.0.7", true, "2.0.0"},
		{"", "4.5.6", false, "0.0.1"}, // a new entity ignores what was never found
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, nextVersion(tc.put, tc.old, tc.found), "%+v", tc)
	}
}

func TestCheckVersion(t *testing.T) {
	for v, ok := range map[string]bool{"": true, "0.0.1": true, "10.2.33": true, "0.0.0": false, "1.2": false, "v1.2.3": false} {
		err := checkVersion(v)
		require.Equal(t, ok, err == nil, "checkVersion(%q) = %v", v, err)
		if !ok {
			require.Equal(t, http.StatusBadRequest, asAPIError(err).status)
			require.Contains(t, asAPIError(err).msg, "bad semantic version "+v)
		}
	}
}
