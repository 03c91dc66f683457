package gateway

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's own; request counts come from httpapi.Metrics.
type metrics struct {
	upstreamDuration *prometheus.HistogramVec
	upstreamErrors   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		upstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "fnmgr",
			Subsystem: "gateway",
			Name:      "upstream_duration_seconds",
			Help:      "Time from sending a request to a controller to its response headers, by controller.",
			Buckets:   []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"controller"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "fnmgr",
			Subsystem: "gateway",
			Name:      "upstream_errors_total",
			Help:      "Requests a controller did not answer (connection refused, reset, …), by controller.",
		}, []string{"controller"}),
	}
	for _, c := range []prometheus.Collector{m.upstreamDuration, m.upstreamErrors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("gateway: register metrics: %w", err)
		}
	}
	return m, nil
}

// forget drops the label sets of a controller that was removed.
func (m *metrics) forget(controller string) {
	m.upstreamDuration.DeleteLabelValues(controller)
	m.upstreamErrors.DeleteLabelValues(controller)
}

// instrumentedTransport times each round trip to the controller the
// request was sent to.
type instrumentedTransport struct {
	next http.RoundTripper
	m    *metrics
}

func (t instrumentedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	if tg, ok := targetFrom(req.Context()); ok {
		if err != nil && req.Context().Err() == nil {
			t.m.upstreamErrors.WithLabelValues(tg.upstream.Name).Inc()
		} else if err == nil {
			t.m.upstreamDuration.WithLabelValues(tg.upstream.Name).Observe(time.Since(start).Seconds())
		}
	}
	return resp, err
}
