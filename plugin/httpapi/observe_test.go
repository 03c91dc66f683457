package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
)

func TestObserve(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantRoute  string
	}{
		{"implicit 200", func(w http.ResponseWriter, r *http.Request) { SetRoute(r, "/a") }, 200, "/a"},
		{"write without header", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("x")) }, 200, UnmatchedRoute},
		{"error shape", func(w http.ResponseWriter, r *http.Request) {
			SetRoute(r, "/b/{id}")
			WriteError(w, r, http.StatusConflict, "It conflicts.")
		}, 409, "/b/{id}"},
		{"flush keeps the status", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			require.NoError(t, http.NewResponseController(w).Flush())
		}, 202, UnmatchedRoute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			reg := prometheus.NewRegistry()
			m, err := NewMetrics(reg)
			require.NoError(t, err)
			h := Observe(ObserveOptions{Server: "test", Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: m}, tc.handler)
			req := httptest.NewRequest("GET", "/x?secret=1", nil)
			req.Header.Set("Authorization", "Bearer hidden-token")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, tc.wantStatus, rec.Code)
			id := rec.Header().Get(RequestIDHeader)
			require.Len(t, id, 32)

			var line map[string]any
			require.NoError(t, json.Unmarshal(logs.Bytes(), &line))
			require.Equal(t, tc.wantRoute, line["route"])
			require.EqualValues(t, tc.wantStatus, line["status"])
			require.Equal(t, id, line["request_id"])
			require.NotContains(t, logs.String(), "hidden-token")
			require.NotContains(t, logs.String(), "secret")

			if tc.wantStatus == http.StatusConflict {
				var e entity.Error
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
				require.Equal(t, entity.Error{Error: "It conflicts.", Code: id}, e)
			}
			mfs, err := reg.Gather()
			require.NoError(t, err)
			require.NotEmpty(t, mfs)
		})
	}
}

func TestRequestIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewRequestID()
		require.Len(t, id, 32)
		require.True(t, validRequestID(id))
		require.False(t, seen[id])
		seen[id] = true
	}
	for _, bad := range []string{"", "has space", "semi;colon", string(make([]byte, 129))} {
		require.False(t, validRequestID(bad), "%q", bad)
	}
}
