package gateway

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/plugin/httpapi"
)

// seen is what an upstream received.
type seen struct {
	method, path, rawQuery, auth, requestID, forwardedFor string
	uri                                                   string
	body                                                  string
}

// upstream is a fake controller that records requests and answers with
// its name.
type upstream struct {
	*httptest.Server
	name string
	hits atomic.Int32
	mu   sync.Mutex
	last seen
}

func newUpstream(t *testing.T, name string, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{name: name}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.last = seen{method: r.Method, path: r.URL.Path, rawQuery: r.URL.RawQuery, auth: r.Header.Get("Authorization"),
			requestID: r.Header.Get(httpapi.RequestIDHeader), forwardedFor: r.Header.Get("X-Forwarded-For"),
			uri: r.RequestURI, body: string(b)}
		u.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("X-Upstream", name)
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) lastSeen() seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

type fixture struct {
	gw   *Gateway
	srv  *httptest.Server
	reg  *prometheus.Registry
	logs *bytes.Buffer
	mu   *sync.Mutex
}

func newFixture(t *testing.T, router Router, ups ...*upstream) fixture {
	t.Helper()
	var urls []*url.URL
	for _, u := range ups {
		urls = append(urls, mustURL(t, u.URL))
	}
	reg := prometheus.NewRegistry()
	hm, err := httpapi.NewMetrics(reg)
	require.NoError(t, err)
	f := fixture{reg: reg, logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	gw, err := New(Options{
		Controllers: urls,
		Router:      router,
		Logger:      slog.New(slog.NewJSONHandler(lockedWriter{f.mu, f.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HTTPMetrics: hm,
		Registerer:  reg,
	})
	require.NoError(t, err)
	f.gw = gw
	f.srv = httptest.NewServer(gw)
	t.Cleanup(f.srv.Close)
	return f
}

func (f fixture) logText() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logs.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// seriesCount counts the label sets of metric name in reg.
func seriesCount(t *testing.T, reg *prometheus.Registry, name string) int {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}
