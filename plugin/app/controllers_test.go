package app

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSetControllers: a configuration reload moves the gateway to other
// controllers, and the admin API lists them.
func TestSetControllers(t *testing.T) {
	ctrl := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, name)
		}))
		t.Cleanup(s.Close)
		return s
	}
	one, two := ctrl("one"), ctrl("two")
	a, err := New(testOptions(t, one.URL))
	require.NoError(t, err)
	u, err := url.Parse(two.URL)
	require.NoError(t, err)
	require.Error(t, a.SetControllers([]*url.URL{u}), "before Start")
	require.NoError(t, a.Start(context.Background()))
	defer func() { require.NoError(t, a.Stop(context.Background())) }()
	gw, admin := "http://"+a.GatewayAddr(), "http://"+a.AdminAddr()

	_, body := get(t, gw+"/api/v1", "")
	require.Equal(t, "one", body)
	require.NoError(t, a.SetControllers([]*url.URL{u}))
	for range 3 {
		_, body = get(t, gw+"/api/v1", "")
		require.Equal(t, "two", body)
	}
	require.ErrorContains(t, a.SetControllers(nil), "at least one controller")

	code, body := get(t, admin+"/v1/controllers", "Bearer "+testToken)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"url":"`+two.URL+`"`)
	require.NotContains(t, body, one.URL)
}
