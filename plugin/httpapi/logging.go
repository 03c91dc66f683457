package httpapi

import (
	"context"
	"log/slog"
)

// LogHandler returns h adding the request id of the request a record's
// context belongs to (Observe's) as "request_id", so that every line
// logged with a request's context names the request a client was told
// about in its error's "code". Records logged outside a request are
// unchanged. Wrapping twice adds the id once.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(*idHandler); ok {
		return h
	}
	return &idHandler{h}
}

type idHandler struct{ slog.Handler }

func (h *idHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h *idHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &idHandler{h.Handler.WithAttrs(attrs)}
}

func (h *idHandler) WithGroup(name string) slog.Handler {
	return &idHandler{h.Handler.WithGroup(name)}
}
