package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/tests/testkit"
)

func TestNew(t *testing.T) {
	for _, bad := range []string{"", "ftp://x", "http://", "http://u:p@host:1", "::"} {
		_, err := New(Options{BaseURL: bad})
		require.Error(t, err, bad)
		require.NotContains(t, err.Error(), "u:p", "credentials are not echoed")
	}
	c, err := New(Options{BaseURL: "http://127.0.0.1:3235/"})
	require.NoError(t, err)
	require.Equal(t, "_", c.Namespace())
	require.Equal(t, "http://127.0.0.1:3235", c.BaseURL())
}

func TestErrorsAndPaths(t *testing.T) {
	var mu sync.Mutex
	var gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath := r.URL.EscapedPath()
		mu.Lock()
		gotAuth = r.Header.Get("Authorization")
		mu.Unlock()
		switch {
		case r.Method == http.MethodGet && gotPath == "/v1/namespaces/guest/functions/demo%2Fhello":
			w.WriteHeader(http.StatusGone)
			_, _ = w.Write([]byte(`{"error":"Function guest/demo/hello is RETIRED.","code":"req42"}`))
		case gotPath == "/v1/namespaces/guest/functions/hello/versions":
			w.Header().Set("X-Request-ID", "hdr1")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`<html>bad gateway</html>`))
		case gotPath == "/v1/namespaces/guest/functions/hello/history":
			// A slow answer, chosen: longer than the client's timeout.
			// The client giving up ends it.
			testkit.Pause(r.Context(), 200*time.Millisecond)
		}
	}))
	defer srv.Close()
	c, err := New(Options{BaseURL: srv.URL, Namespace: "guest", Authorization: BasicAuth("u:k")})
	require.NoError(t, err)
	_, err = c.Function(context.Background(), "demo/hello")
	require.EqualError(t, err, "Function guest/demo/hello is RETIRED. (code req42)")
	require.True(t, IsStatus(err, http.StatusGone))
	mu.Lock()
	require.Equal(t, "Basic dTpr", gotAuth)
	mu.Unlock()

	_, err = c.Versions(context.Background(), "hello", false)
	require.EqualError(t, err, "the admin API answered 502 Bad Gateway (code hdr1)")

	slow, err := New(Options{BaseURL: srv.URL, Namespace: "guest", Timeout: 50 * time.Millisecond})
	require.NoError(t, err)
	_, err = slow.History(context.Background(), "hello")
	require.ErrorContains(t, err, "timed out")

	_, err = c.Revisions(context.Background(), "x")
	require.NoError(t, err, "a 200 with no body decodes to nothing")
}
