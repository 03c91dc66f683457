package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// UnmatchedRoute is the route label of requests no route matched.
const UnmatchedRoute = "unmatched"

// ObserveOptions configures Observe.
type ObserveOptions struct {
	// Server names the server in logs and metrics ("admin", "gateway").
	Server string
	// Logger receives one line per request; nothing is logged when nil.
	Logger *slog.Logger
	// Level of the access-log lines (slog.LevelInfo when zero).
	Level slog.Level
	// Metrics, when set, counts and times every request.
	Metrics *Metrics
}

// Observe wraps next so that every request gets a request id (the client's
// X-Request-ID when it is well formed, else a new one), echoed in the
// response's X-Request-ID header, and is logged once and measured when it
// ends. The log line holds the method, the route template (see SetRoute),
// the status, the duration and the request id: no path, query or header.
func Observe(o ObserveOptions, next http.Handler) http.Handler {
	if o.Logger != nil {
		o.Logger = slog.New(LogHandler(o.Logger.Handler())) // adds request_id
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{id: requestIDFrom(r), route: UnmatchedRoute}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri))
		w.Header().Set(RequestIDHeader, ri.id)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK // nothing written: net/http sends 200
			}
			d := time.Since(start)
			o.Metrics.observe(o.Server, ri.route, status, d)
			if o.Logger != nil {
				o.Logger.LogAttrs(r.Context(), o.Level, "request",
					slog.String("method", r.Method),
					slog.String("route", ri.route),
					slog.Int("status", status),
					slog.Duration("duration", d))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status code. It unwraps to the underlying
// writer so http.ResponseController reaches Flush and Hijack (streaming and
// upgrades through the gateway).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets handlers that type-assert http.Flusher stream through.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the underlying writer for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
