package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLogHandler: a line logged with a request's context carries the
// request's id once (also the access log line, whose logger is wrapped
// twice), a line logged without one carries none.
func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(LogHandler(slog.NewJSONHandler(&buf, nil)))).With("component", "test")
	h := Observe(ObserveOptions{Server: "admin", Logger: log}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "inside")
		log.WithGroup("g").InfoContext(r.Context(), "grouped")
		log.Info("no context")
		WriteError(w, r, http.StatusConflict, "No.")
	}))
	req := httptest.NewRequest("GET", "/x", nil)
	req.Header.Set(RequestIDHeader, "req-1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, "req-1", rec.Header().Get(RequestIDHeader))

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 4)
	for _, line := range lines {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		require.LessOrEqual(t, strings.Count(line, `"request_id"`), 1, line)
		switch rec["msg"] {
		case "inside", "request":
			require.Equal(t, "req-1", rec["request_id"], line)
			require.Equal(t, "test", rec["component"], line)
		case "grouped":
			require.Equal(t, "req-1", rec["g"].(map[string]any)["request_id"], line)
		case "no context":
			require.NotContains(t, rec, "request_id", line)
		}
	}
	var body map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Equal(t, "req-1", body["code"])
}
