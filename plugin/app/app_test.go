package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/plugin/admin"
	"github.com/fnmgr/fnmgr/plugin/config"
	"github.com/fnmgr/fnmgr/tests/couchtest"
	"github.com/fnmgr/fnmgr/tests/logbuf"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

const testToken = "app-test-token-0123456789"

func TestMain(m *testing.M) { couchtest.Main(m) }

// testOptions listens on free ports, proxies to controller, and uses a real
// CouchDB-protocol server under fresh database prefixes; Kafka is unreachable. (CouchDB
// credentials in logs are covered by plugin/config's tests.)
func testOptions(t *testing.T, controller string) Options {
	t.Helper()
	cfg := config.Default()
	cfg.AdminAddr, cfg.GatewayAddr = "127.0.0.1:0", "127.0.0.1:0"
	u, err := url.Parse(controller)
	require.NoError(t, err)
	cfg.Controllers = []*url.URL{u}
	cu, err := url.Parse(couchtest.URL(t))
	require.NoError(t, err)
	cfg.CouchURL = cu
	p := couchtest.Prefix(t)
	cfg.DBPrefix, cfg.OWDBPrefix = p+"fnmgr_", p+"whisk_"
	cfg.KafkaBrokers = []string{testkit.ClosedAddr(t)}
	cfg.AdminToken = testToken
	cfg.ShutdownTimeout = 5 * time.Second
	return Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()}
}

func get(t *testing.T, rawURL, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", rawURL, nil)
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestStartServeStop(t *testing.T) {
	ctrl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "controller "+r.URL.Path)
	}))
	defer ctrl.Close()
	a, err := New(testOptions(t, ctrl.URL))
	require.NoError(t, err)
	require.Equal(t, []string{"started: starting"}, a.Ready(context.Background()))
	require.NoError(t, a.Start(context.Background()))

	admin, gw := "http://"+a.AdminAddr(), "http://"+a.GatewayAddr()
	// The only replica takes the lease, then waits for Kafka in the
	// leader's first stage.
	require.Eventually(t, func() bool {
		return slices.Contains(a.Ready(context.Background()), "kafka: joining the Kafka consumer groups")
	}, 10*time.Second, 10*time.Millisecond, "%v", a.Ready(context.Background()))
	tests := []struct {
		name, url, auth string
		want            int
		body            string
	}{
		{"healthz", admin + "/healthz", "", 200, `"ok"`},
		{"readyz waits for Kafka", admin + "/readyz", "", 503, "kafka: joining the Kafka consumer groups"},
		{"admin token reaches the API", admin + "/v1/namespaces/guest/functions", "Bearer " + testToken, 200, "[]"},
		{"subject key without a subjects database", admin + "/v1/namespaces/guest/functions", "Basic Z3Vlc3Q6a2V5", 503, "subjects database"},
		{"gateway root", gw + "/", "", 200, "controller /"},
		{"gateway api", gw + "/api/v1", "", 200, "controller /api/v1"},
		{"metrics of both servers", admin + "/metrics", "", 200, `fnmgr_gateway_upstream_duration_seconds_count{controller="` + strings.TrimPrefix(ctrl.URL, "http://") + `"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, tc.url, tc.auth)
			require.Equal(t, tc.want, code, body)
			require.Contains(t, body, tc.body)
		})
	}

	require.NoError(t, a.Stop(context.Background()))
	require.Contains(t, a.Ready(context.Background()), "started: stopping")
	for _, addr := range []string{a.AdminAddr(), a.GatewayAddr()} {
		_, err := net.DialTimeout("tcp", addr, time.Second)
		require.Error(t, err, "%s still listens after Stop", addr)
	}
	require.Error(t, a.Start(context.Background()), "an App starts once")
}

// TestFailedStartUnwinds takes the admin port: Start must fail, name the
// address, and leave the gateway port (already opened) free again.
func TestFailedStartUnwinds(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	o := testOptions(t, "http://127.0.0.1:1")
	o.Config.GatewayAddr = testkit.ClosedAddr(t)
	o.Config.AdminAddr = taken.Addr().String()
	a, err := New(o)
	require.NoError(t, err)
	err = a.Start(context.Background())
	require.Error(t, err)
	require.Contains(t, err.Error(), taken.Addr().String())
	require.Contains(t, err.Error(), "admin")

	ln, err := net.Listen("tcp", o.Config.GatewayAddr)
	require.NoError(t, err, "the gateway server was not stopped when Start failed")
	require.NoError(t, ln.Close())
	require.NoError(t, a.Stop(context.Background()), "Stop after a failed Start is harmless")
}

// TestLogsCarryNoSecrets starts and stops with a password in the CouchDB
// URL and an admin token, logging at debug, and checks neither shows.
func TestLogsCarryNoSecrets(t *testing.T) {
	var buf syncBuffer
	o := testOptions(t, "http://127.0.0.1:1")
	o.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := New(o)
	require.NoError(t, err)
	require.NoError(t, a.Start(context.Background()))
	get(t, "http://"+a.AdminAddr()+"/v1/namespaces/guest/functions", "Bearer "+testToken)
	get(t, "http://"+a.AdminAddr()+"/v1/namespaces/guest/functions", "Basic Z3Vlc3Q6a2V5")
	require.NoError(t, a.Stop(context.Background()))
	logs := buf.String()
	require.Contains(t, logs, "starting fnmgr")
	require.Contains(t, logs, `"admin_token":"set"`)
	for _, secret := range []string{testToken, "Z3Vlc3Q6a2V5"} {
		require.NotContains(t, logs, secret)
	}
}

type syncBuffer = logbuf.Buffer

func TestNewValidates(t *testing.T) {
	o := testOptions(t, "http://127.0.0.1:1")
	o.Config.Controllers = nil
	_, err := New(o)
	require.ErrorContains(t, err, "--controllers")
}

func TestInjectedAuthenticator(t *testing.T) {
	o := testOptions(t, "http://127.0.0.1:1")
	o.Authenticator = authFunc(func(context.Context, string, string) (admin.Identity, error) {
		return admin.Identity{Subject: "s", Namespace: "ns1", Namespaces: []string{"ns1"}}, nil
	})
	a, err := New(o)
	require.NoError(t, err)
	require.NoError(t, a.Start(context.Background()))
	defer func() { require.NoError(t, a.Stop(context.Background())) }()
	code, _ := get(t, "http://"+a.AdminAddr()+"/v1/namespaces/ns1/functions", "Basic dTprZXk=")
	require.Equal(t, http.StatusOK, code)
	code, _ = get(t, "http://"+a.AdminAddr()+"/v1/namespaces/ns2/functions", "Basic dTprZXk=")
	require.Equal(t, http.StatusForbidden, code)
}

type authFunc func(ctx context.Context, uuid, key string) (admin.Identity, error)

func (f authFunc) Authenticate(ctx context.Context, uuid, key string) (admin.Identity, error) {
	return f(ctx, uuid, key)
}

func TestLifecycleStopsInReverse(t *testing.T) {
	var l lifecycle
	var order []string
	boom := errors.New("boom")
	for _, name := range []string{"first", "second", "third"} {
		l.onStop(name, func(ctx context.Context) error {
			order = append(order, name)
			if name == "second" {
				return boom
			}
			return nil
		})
	}
	err := l.stop(context.Background())
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "stop second")
	require.Equal(t, []string{"third", "second", "first"}, order)
	require.NoError(t, l.stop(context.Background()), "a second stop has nothing left")
	require.Len(t, order, 3)
}
