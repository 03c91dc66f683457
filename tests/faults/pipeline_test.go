package faults

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kivik/kivik/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/couch/feed"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/plugin/openwhisk"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/storage"
	"github.com/fnmgr/fnmgr/plugin/versions"
	"github.com/fnmgr/fnmgr/tests/stackenv"
)

// pipeline is fnmgr's version machinery (whisks change feed → Version
// Controller → Meta Registry and Storage Handler), wired as plugin/app
// wires it, run in this process over databases of its own on the stack's
// CouchDB: a test that wedges its follower leaves the stack's fnmgr alone.
type pipeline struct {
	whisksDB *kivik.DB
	whisks   *whiskdb.Store
	reg      *registry.Store
	metrics  *prometheus.Registry
	feedM    *feed.Metrics
	vm       *versions.Metrics
	follower *feed.Follower
}

var pipelines atomic.Int64

func newPipeline(t *testing.T, e *stackenv.Env) *pipeline {
	t.Helper()
	ctx := context.Background()
	c := e.Couch(t)
	prefix := fmt.Sprintf("faults_%d_%d_", time.Now().UnixNano()%1e6, pipelines.Add(1))
	db := func(name string) *kivik.DB {
		require.NoError(t, couch.EnsureDB(ctx, c, prefix+name))
		t.Cleanup(func() { _ = c.DestroyDB(context.Background(), prefix+name) })
		return c.DB(prefix + name)
	}
	p := &pipeline{whisksDB: db("whisks"), metrics: prometheus.NewRegistry()}
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the pipeline's log:\n%s", logs.tail(4000))
		}
	})
	p.whisks = whiskdb.New(p.whisksDB)
	p.reg = registry.New(db("registry"))
	p.vm = versions.NewMetrics(p.metrics)
	p.feedM = feed.NewMetrics(p.metrics)
	ctl := versions.New(versions.Options{Registry: p.reg, Storage: storage.NewCouch(db("artifacts")),
		Actions: openwhisk.NewActions(p.whisks, nil), Metrics: p.vm, AnnotateDelay: 50 * time.Millisecond, Logger: log})
	t.Cleanup(ctl.Close)
	f, err := feed.New(feed.Options{URL: e.EP.CouchDB + "/" + prefix + "whisks", Handler: ctl.Observe,
		Checkpoints: p.reg.Checkpoint("whisks"), Metrics: p.feedM, MinBackoff: 20 * time.Millisecond, MaxBackoff: time.Second,
		Logger: log})
	require.NoError(t, err)
	p.follower = f
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

// event is versions' events_total{event} (malformed, revision, adopted…).
func (p *pipeline) event(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := p.metrics.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "fnmgr_versions_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "event" && l.GetValue() == name {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// logBuffer keeps a log for a failure's message; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// tail returns the last n bytes.
func (l *logBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.b.Bytes()
	return string(b[max(0, len(b)-n):])
}
