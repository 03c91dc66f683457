package gateway

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's own; request counts come from httpapi.Metrics.
// Every series is labelled by controller (its host:port, a bounded set);
// a removed controller's series are deleted.
type metrics struct {
	upstreamDuration *prometheus.HistogramVec
	upstreamErrors   *prometheus.CounterVec
	healthy          *prometheus.GaugeVec
	retries          *prometheus.CounterVec
	conflictRetries  *prometheus.CounterVec
	ejections        *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "fnmgr", "gateway"
	m := &metrics{
		upstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub,
			Name:    "upstream_duration_seconds",
			Help:    "Time from sending a request to a controller to its response headers, by controller.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"controller"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub,
			Name: "upstream_errors_total",
			Help: "Requests a controller did not answer (connection refused, reset, …), by controller.",
		}, []string{"controller"}),
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub,
			Name: "controller_healthy",
			Help: "1 while the controller takes requests, 0 while it is ejected.",
		}, []string{"controller"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub,
			Name: "retries_total",
			Help: "Requests sent again to another controller after this one failed them before they could have started, by the controller that failed.",
		}, []string{"controller"}),
		conflictRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub,
			Name: "conflict_retries_total",
			Help: "Writes (PUT, DELETE) sent again to the same controller after it answered 409 concurrent modification, by controller.",
		}, []string{"controller"}),
		ejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub,
			Name: "ejections_total",
			Help: "Times a controller was marked unhealthy, by controller and reason (health_check, connection_error, unavailable, manual).",
		}, []string{"controller", "reason"}),
	}
	for _, c := range []prometheus.Collector{m.upstreamDuration, m.upstreamErrors, m.healthy, m.retries, m.conflictRetries, m.ejections} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("gateway: register metrics: %w", err)
		}
	}
	return m, nil
}

// upstreamMetrics are one controller's series, resolved once so that the
// request path does no label lookup, and so that a request finishing on a
// removed controller does not bring its deleted series back.
type upstreamMetrics struct {
	duration prometheus.Observer
	errors   prometheus.Counter
	healthy  prometheus.Gauge
	retries  prometheus.Counter
	// conflictRetries counts writes sent again after a 409.
	conflictRetries prometheus.Counter
	ejections       map[string]prometheus.Counter
}

func (m *metrics) forUpstream(name string) upstreamMetrics {
	um := upstreamMetrics{
		duration:        m.upstreamDuration.WithLabelValues(name),
		errors:          m.upstreamErrors.WithLabelValues(name),
		healthy:         m.healthy.WithLabelValues(name),
		retries:         m.retries.WithLabelValues(name),
		ejections:       map[string]prometheus.Counter{},
		conflictRetries: m.conflictRetries.WithLabelValues(name),
	}
	for _, r := range []string{ReasonHealthCheck, ReasonConnectionError, ReasonUnavailable, ReasonManual} {
		um.ejections[r] = m.ejections.WithLabelValues(name, r)
	}
	return um
}

func (um upstreamMetrics) ejected(reason string) {
	if c, ok := um.ejections[reason]; ok {
		c.Inc()
	}
}

// forget drops the series of a controller that was removed.
func (m *metrics) forget(controller string) {
	m.upstreamDuration.DeleteLabelValues(controller)
	m.upstreamErrors.DeleteLabelValues(controller)
	m.healthy.DeleteLabelValues(controller)
	m.retries.DeleteLabelValues(controller)
	m.conflictRetries.DeleteLabelValues(controller)
	m.ejections.DeletePartialMatch(prometheus.Labels{"controller": controller})
}
