package admin

import (
	"context"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/plugin/gateway"
	"github.com/fnmgr/fnmgr/plugin/httpapi"
	"github.com/fnmgr/fnmgr/plugin/lifecycle"
	"github.com/fnmgr/fnmgr/plugin/openwhisk"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/storage"
	"github.com/fnmgr/fnmgr/plugin/versions"
)

// testDeployment bounds run-time settings as a deployment with OpenWhisk's
// default limits would: memory 128 MB to MAX_MEMORY 2048 MB, 8 GPUs.
type testDeployment struct{}

func (testDeployment) MinMemoryMB(context.Context) (int, error) { return 128, nil }
func (testDeployment) MaxMemoryMB() int                         { return 2048 }
func (testDeployment) MaxGPUNum() int                           { return 8 }
func (testDeployment) Kinds(context.Context) ([]string, error) {
	return []string{"nodejs:20", "nodejs:default", "python:3", "python:default"}, nil
}

// newOfflineAPI is the admin API with every real handler, over a CouchDB
// that does not answer (nothing listens on 127.0.0.1:1): each request runs
// its decoding and validation for real, and what passes them fails at the
// first database call (500). Tests of hostile input need no services.
func newOfflineAPI(t testing.TB) testAPI {
	t.Helper()
	c, err := couch.NewClient(context.Background(), "http://127.0.0.1:1", couch.ClientOptions{Lazy: true, DialTimeout: time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	reg := registry.New(c.DB("registry"))
	ver := versions.New(versions.Options{Registry: reg, Storage: storage.NewCouch(c.DB("artifacts")),
		Actions: openwhisk.NewActions(whiskdb.New(c.DB("whisks")), nil)})
	t.Cleanup(ver.Close)
	first, err := url.Parse("http://127.0.0.1:3233")
	require.NoError(t, err)
	gw, err := gateway.New(gateway.Options{Controllers: []*url.URL{first}, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	promReg := prometheus.NewRegistry()
	m, err := httpapi.NewMetrics(promReg)
	require.NoError(t, err)
	logs := &syncBuffer{}
	a, err := New(Options{
		Logger:        slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics:       m,
		Gatherer:      promReg,
		Authenticator: fakeAuth{},
		AdminToken:    testToken,
		Functions: &Functions{Registry: reg, Versions: ver, Deployment: testDeployment{},
			Lifecycle: lifecycle.New(lifecycle.Options{Registry: reg, Versions: ver})},
		Controllers: gw,
	})
	require.NoError(t, err)
	return testAPI{API: a, reg: promReg, logs: logs}
}
