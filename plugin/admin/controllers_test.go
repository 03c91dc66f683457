package admin

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/plugin/gateway"
)

func TestControllersEndpoints(t *testing.T) {
	first, err := url.Parse("http://127.0.0.1:3233")
	require.NoError(t, err)
	gw, err := gateway.New(gateway.Options{Controllers: []*url.URL{first}, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	a := newTestAPI(t, func(o *Options) { o.Controllers = gw })
	admin, guest := bearer(testToken), basic(guestUUID, guestKey)

	// Steps run in order: each sees the set the previous ones left.
	steps := []struct {
		name, method, path, auth, body string
		want                           int
		wantURLs                       []string // the listed controllers
	}{
		{name: "list", method: "GET", path: "/v1/controllers", auth: admin, want: 200, wantURLs: []string{"http://127.0.0.1:3233"}},
		{name: "no credentials", method: "GET", path: "/v1/controllers", want: 401},
		{name: "a subject key is not enough", method: "GET", path: "/v1/controllers", auth: guest, want: 403},
		{name: "a subject key cannot add", method: "POST", path: "/v1/controllers", auth: guest, body: `{"url":"http://127.0.0.1:3240"}`, want: 403},
		{name: "add", method: "POST", path: "/v1/controllers", auth: admin, body: `{"url":"http://127.0.0.1:3240/"}`,
			want: 201, wantURLs: []string{"http://127.0.0.1:3233", "http://127.0.0.1:3240"}},
		{name: "add again", method: "POST", path: "/v1/controllers", auth: admin, body: `{"url":"http://127.0.0.1:3240"}`, want: 409},
		{name: "add no URL", method: "POST", path: "/v1/controllers", auth: admin, body: `{}`, want: 400},
		{name: "add not http", method: "POST", path: "/v1/controllers", auth: admin, body: `{"url":"kafka://x:1"}`, want: 400},
		{name: "add with a query", method: "POST", path: "/v1/controllers", auth: admin, body: `{"url":"http://x:1/?a=b"}`, want: 400},
		{name: "add unknown field", method: "POST", path: "/v1/controllers", auth: admin, body: `{"uri":"http://x:1"}`, want: 400},
		{name: "remove without url", method: "DELETE", path: "/v1/controllers", auth: admin, want: 400},
		{name: "remove unknown", method: "DELETE", path: "/v1/controllers?url=http://127.0.0.1:1", auth: admin, want: 404},
		{name: "a subject key cannot remove", method: "DELETE", path: "/v1/controllers?url=http://127.0.0.1:3233", auth: guest, want: 403},
		{name: "remove", method: "DELETE", path: "/v1/controllers?url=" + url.QueryEscape("http://127.0.0.1:3233"), auth: admin,
			want: 200, wantURLs: []string{"http://127.0.0.1:3240"}},
		{name: "remove the last", method: "DELETE", path: "/v1/controllers?url=http://127.0.0.1:3240", auth: admin, want: 409},
		{name: "wrong method", method: "PUT", path: "/v1/controllers", auth: admin, want: 405},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			var r result
			if s.body != "" {
				r = a.do(t, s.method, s.path, s.auth, strings.NewReader(s.body))
			} else {
				r = a.do(t, s.method, s.path, s.auth, nil)
			}
			require.Equal(t, s.want, r.status, "body %s", r.body)
			if s.want >= 400 {
				requireErrorShape(t, r)
				return
			}
			var got struct {
				Controllers []gateway.Status `json:"controllers"`
			}
			require.NoError(t, json.Unmarshal(r.body, &got))
			var urls []string
			for _, c := range got.Controllers {
				urls = append(urls, c.URL)
				require.True(t, c.Healthy)
				require.NotEmpty(t, c.Name)
			}
			require.Equal(t, s.wantURLs, urls)
		})
	}
}

func TestControllersNotWired(t *testing.T) {
	a := newTestAPI(t, nil)
	r := a.do(t, http.MethodGet, "/v1/controllers", bearer(testToken), nil)
	require.Equal(t, http.StatusNotImplemented, r.status)
	requireErrorShape(t, r)
}
