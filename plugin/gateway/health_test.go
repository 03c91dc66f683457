package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

// flaky is a fake controller whose GET / answers rootStatus (0: hang until
// the request is cancelled) and whose other paths answer apiStatus.
type flaky struct {
	*fake
	rootStatus, apiStatus atomic.Int32
}

func newFlaky(t *testing.T, name string) *flaky {
	t.Helper()
	f := &flaky{}
	f.rootStatus.Store(200)
	f.apiStatus.Store(200)
	f.fake = newFake(t, name, func(w http.ResponseWriter, r *http.Request) {
		st := f.apiStatus.Load()
		if r.URL.Path == "/" {
			st = f.rootStatus.Load()
		}
		if st == 0 {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(int(st))
		_, _ = w.Write([]byte(name))
	})
	return f
}

const tick = 10 * time.Millisecond

func TestActiveHealthChecks(t *testing.T) {
	a, b := newFlaky(t, "a"), newFlaky(t, "b")
	f := newFixtureWith(t, func(o *Options) {
		o.Controllers = urls(t, a.URL, b.URL)
		o.HealthInterval = 20 * time.Millisecond
		o.HealthTimeout = 50 * time.Millisecond
	})
	require.NoError(t, f.gw.Start(context.Background()))
	require.Error(t, f.gw.Start(context.Background()), "Start runs once")
	upA := f.upstream(t, a.fake)
	hostA := testkit.MustURL(t, a.URL).Host

	steps := []struct {
		name        string
		root        int32
		wantHealthy bool
		wantCheck   string
	}{
		{"failing GET / ejects", 500, false, "GET / answered 500"},
		{"passing GET / admits again", 200, true, "GET / answered 200"},
		{"no answer within the timeout ejects", 0, false, "no answer within 50ms"},
		{"and admits again", 204, true, "GET / answered 204"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			a.rootStatus.Store(s.root)
			require.Eventually(t, func() bool {
				st := upA.status()
				return st.Healthy == s.wantHealthy && st.LastCheck == s.wantCheck
			}, 5*time.Second, tick)
			if !s.wantHealthy {
				for range 4 {
					status, body := f.do(t, "GET", "/api/v1", "")
					require.Equal(t, 200, status)
					require.Equal(t, "b", body, "an unhealthy controller gets no requests")
				}
				st := upA.status()
				require.Equal(t, ReasonHealthCheck, st.Reason)
			}
		})
	}
	require.GreaterOrEqual(t, metricValue(t, f.reg, "fnmgr_gateway_ejections_total",
		map[string]string{"controller": hostA, "reason": ReasonHealthCheck}), 2.0)
	require.Equal(t, 1.0, metricValue(t, f.reg, "fnmgr_gateway_controller_healthy", map[string]string{"controller": hostA}))
	require.NoError(t, f.gw.Stop(context.Background()))
}

// TestPassiveEjection: a 503 or a transport error ejects a controller at
// once; it stays out until a health check passes.
func TestPassiveEjection(t *testing.T) {
	a, b := newFlaky(t, "a"), newFlaky(t, "b")
	a.apiStatus.Store(http.StatusServiceUnavailable)
	f := newFixtureWith(t, func(o *Options) {
		o.Controllers = urls(t, a.URL, b.URL)
		o.HealthInterval = time.Hour // only the first round, at Start
	})
	status, body := f.do(t, "POST", "/api/v1/namespaces/guest/actions/x", "{}")
	require.Equal(t, http.StatusServiceUnavailable, status, "the controller's 503 passes through")
	require.Equal(t, "a", body)
	upA := f.upstream(t, a.fake)
	require.False(t, upA.Healthy())
	require.Equal(t, ReasonUnavailable, upA.status().Reason)
	for range 3 {
		_, body := f.do(t, "GET", "/api/v1", "")
		require.Equal(t, "b", body)
	}

	// All ejected: 503 in OpenWhisk's error shape, nothing reaches them.
	b.Close()
	status, _ = f.do(t, "GET", "/api/v1", "")
	// 503 when the connection was refused, 502 when a pooled connection
	// took the request before it saw b close.
	require.Contains(t, []int{http.StatusBadGateway, http.StatusServiceUnavailable}, status)
	require.False(t, f.upstream(t, b.fake).Healthy())
	hitsA := a.hits.Load()
	status, body = f.do(t, "POST", "/api/v1/namespaces/guest/actions/x", "{}")
	require.Equal(t, http.StatusServiceUnavailable, status)
	var e entity.Error
	require.NoError(t, json.Unmarshal([]byte(body), &e))
	require.Contains(t, e.Error, "No OpenWhisk controller is available")
	require.NotEmpty(t, e.Code)
	require.Equal(t, hitsA, a.hits.Load())

	// A passing health check admits a again; b stays out.
	a.apiStatus.Store(200)
	require.NoError(t, f.gw.Start(context.Background()))
	require.Eventually(t, upA.Healthy, 5*time.Second, tick)
	require.False(t, f.upstream(t, b.fake).Healthy())
	status, body = f.do(t, "GET", "/api/v1", "")
	require.Equal(t, 200, status)
	require.Equal(t, "a", body)
}
