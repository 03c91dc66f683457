package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
)

// requestCounter counts pouchdb-server's requests by method and database,
// from its log lines ("[info] GET /db/... 200 - 127.0.0.1").
type requestCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *requestCounter) Enabled(context.Context, slog.Level) bool { return true }
func (r *requestCounter) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *requestCounter) WithGroup(string) slog.Handler            { return r }

func (r *requestCounter) Handle(_ context.Context, rec slog.Record) error {
	f := strings.Fields(rec.Message)
	if len(f) < 3 || f[0] != "[info]" {
		return nil
	}
	db, rest, _ := strings.Cut(strings.TrimPrefix(f[2], "/"), "/")
	if strings.HasPrefix(rest, "_changes") {
		db += "/_changes"
	}
	r.mu.Lock()
	r.n[f[1]+" "+db]++
	r.mu.Unlock()
	return nil
}

func (r *requestCounter) reset() {
	r.mu.Lock()
	r.n = map[string]int{}
	r.mu.Unlock()
}

func (r *requestCounter) per(writes int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]string, 0, len(r.n))
	for k := range r.n {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %.2f; ", k, float64(r.n[k])/float64(max(writes, 1)))
	}
	return b.String()
}
