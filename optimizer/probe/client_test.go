package probe

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type keyOf string

func (k keyOf) KeyFor(context.Context, string) (string, error) { return string(k), nil }

const testKey = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:topsecretkey"

func TestClient(t *testing.T) {
	var polls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/namespaces/guest/actions/", func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user+":"+pass != testKey {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		require.Equal(t, "true", r.URL.Query().Get("blocking"))
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch strings.TrimPrefix(r.URL.EscapedPath(), "/api/v1/namespaces/guest/actions/") {
		case "pkg/hello@fnmgr-probe-r1-256":
			require.JSONEq(t, `{"n":1}`, string(body))
			_, _ = io.WriteString(w, `{"activationId":"a1","namespace":"guest","name":"hello","start":1,"end":151,"duration":150,
				"response":{"status":"success","success":true,"result":{"ok":true}},
				"annotations":[{"key":"waitTime","value":12},{"key":"initTime","value":40},{"key":"timeout","value":false}]}`)
		case "oom":
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, `{"activationId":"a2","duration":30,"response":{"status":"action developer error","success":false,
				"result":{"error":"The action exhausted its memory and was aborted."}},"annotations":[]}`)
		case "slow":
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, `{"activationId":"a3"}`)
		case "busy":
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"error":"Too many requests in the last minute (count: 61, allowed: 60).","code":"x"}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":"The requested resource does not exist.","code":"x"}`)
		}
	})
	mux.HandleFunc("/api/v1/namespaces/guest/activations/a3", func(w http.ResponseWriter, r *http.Request) {
		if polls.Add(1) < 2 {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_, _ = io.WriteString(w, `{"activationId":"a3","duration":65000,"response":{"status":"action developer error","success":false,
			"result":{"error":"The action exceeded its time limits of 65000 milliseconds."}},"annotations":[{"key":"timeout","value":true}]}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := NewClient(ClientOptions{APIHost: srv.URL, Keys: keyOf(testKey), PollEvery: 5 * time.Millisecond})
	ctx := context.Background()

	t.Run("success with its annotations", func(t *testing.T) {
		a, err := c.Invoke(ctx, "guest", "pkg/hello@fnmgr-probe-r1-256", json.RawMessage(`{"n":1}`))
		require.NoError(t, err)
		require.Equal(t, Activation{ID: "a1", HTTPStatus: 200, Status: "success", DurationMs: 150, InitMs: 40, WaitMs: 12}, a)
	})
	t.Run("a failed run is an activation, not an error", func(t *testing.T) {
		a, err := c.Invoke(ctx, "guest", "oom", nil)
		require.NoError(t, err)
		require.Equal(t, "The action exhausted its memory and was aborted.", a.Error)
		require.Equal(t, "OOM", map[bool]string{true: "OOM"}[Classify(a) == "out-of-memory"])
	})
	t.Run("202 is polled", func(t *testing.T) {
		a, err := c.Invoke(ctx, "guest", "slow", nil)
		require.NoError(t, err)
		require.True(t, a.TimedOut)
		require.Equal(t, "timeout", string(Classify(a)))
	})
	t.Run("429 is the platform's", func(t *testing.T) {
		_, err := c.Invoke(ctx, "guest", "busy", nil)
		require.ErrorIs(t, err, ErrUnavailable)
		require.NotContains(t, err.Error(), "topsecretkey")
	})
	t.Run("404 is final", func(t *testing.T) {
		_, err := c.Invoke(ctx, "guest", "missing", nil)
		require.Error(t, err)
		require.False(t, errors.Is(err, ErrUnavailable))
		require.NotContains(t, err.Error(), "topsecretkey")
	})
	t.Run("cancellation", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.Invoke(cctx, "guest", "pkg/hello@fnmgr-probe-r1-256", nil)
		require.ErrorIs(t, err, context.Canceled)
	})
	t.Run("unreachable controller", func(t *testing.T) {
		dead := NewClient(ClientOptions{APIHost: "http://127.0.0.1:1", Keys: keyOf(testKey)})
		_, err := dead.Invoke(ctx, "guest", "x", nil)
		require.ErrorIs(t, err, ErrUnavailable)
		require.NotContains(t, err.Error(), "topsecretkey")
	})
}
