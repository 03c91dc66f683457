package gateway

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/plugin/httpapi"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

// seen is what a fake controller received.
type seen struct {
	method, path, rawQuery, auth, requestID, forwardedFor string
	uri                                                   string
	body                                                  string
}

// fake is a fake controller that records requests and answers with
// its name.
type fake struct {
	*httptest.Server
	name string
	hits atomic.Int32
	mu   sync.Mutex
	last seen
}

func newFake(t *testing.T, name string, h http.HandlerFunc) *fake {
	t.Helper()
	u := &fake{name: name}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.last = seen{method: r.Method, path: r.URL.Path, rawQuery: r.URL.RawQuery, auth: r.Header.Get("Authorization"),
			requestID: r.Header.Get(httpapi.RequestIDHeader), forwardedFor: r.Header.Get("X-Forwarded-For"),
			uri: r.RequestURI, body: string(b)}
		u.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
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

func (u *fake) lastSeen() seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

type fixture struct {
	gw   *Gateway
	srv  *httptest.Server
	reg  *prometheus.Registry
	logs *bytes.Buffer
	mu   *sync.Mutex
}

func newFixture(t *testing.T, router Router, ups ...*fake) fixture {
	t.Helper()
	return newFixtureWith(t, func(o *Options) { o.Router = router }, ups...)
}

// newFixtureWith serves a Gateway over ups; mod adjusts its Options. The
// health checks are not started (Start them where a test needs them).
func newFixtureWith(t *testing.T, mod func(*Options), ups ...*fake) fixture {
	t.Helper()
	var urls []*url.URL
	for _, u := range ups {
		urls = append(urls, testkit.MustURL(t, u.URL))
	}
	reg := prometheus.NewRegistry()
	hm, err := httpapi.NewMetrics(reg)
	require.NoError(t, err)
	f := fixture{reg: reg, logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	o := Options{
		Controllers: urls,
		Logger:      slog.New(slog.NewJSONHandler(lockedWriter{f.mu, f.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HTTPMetrics: hm,
		Registerer:  reg,
	}
	if mod != nil {
		mod(&o)
	}
	gw, err := New(o)
	require.NoError(t, err)
	f.gw = gw
	f.srv = httptest.NewServer(gw)
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { require.NoError(t, gw.Stop(context.Background())) })
	return f
}

// do sends one request through the gateway and returns status and body.
func (f fixture) do(t *testing.T, method, path, body string, hdr ...string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// upstream returns the gateway's Upstream for fake controller c.
func (f fixture) upstream(t *testing.T, c *fake) *Upstream {
	t.Helper()
	for _, up := range f.gw.Upstreams() {
		if up.URL.String() == c.URL {
			return up
		}
	}
	t.Fatalf("controller %s is not in the set", c.URL)
	return nil
}

// metricValue is the value of the counter or gauge name with labels.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return -1
}

// controllerLabels lists the controller label values found on every
// gateway metric.
func controllerLabels(t *testing.T, reg *prometheus.Registry) map[string]bool {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]bool{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "fnmgr_gateway_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" {
					out[l.GetValue()] = true
				}
			}
		}
	}
	return out
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
