package httpapi

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts and times the requests of fnmgr's HTTP servers. One value
// serves every server; the "server" label tells them apart. Labels are
// bounded: the handler is a route template, never a path.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
}

// NewMetrics registers the request metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "fnmgr",
			Subsystem: "http",
			Name:      "requests_total",
			Help:      "HTTP requests served, by server, route template and status code.",
		}, []string{"server", "handler", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "fnmgr",
			Subsystem: "http",
			Name:      "request_duration_seconds",
			Help:      "Time to serve HTTP requests, by server and route template.",
			Buckets:   prometheus.ExponentialBuckets(0.001, 4, 8), // 1 ms … 16 s
		}, []string{"server", "handler"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "fnmgr",
			Subsystem: "http",
			Name:      "request_errors_total",
			Help:      "Requests answered with an error, by server and category (reqerr.Kind: invalid, not_found, conflict, gone, locked, unavailable, internal).",
		}, []string{"server", "category"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.errors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("httpapi: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) observe(server, handler string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(server, handler, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(server, handler).Observe(d.Seconds())
}

// CountError counts a request of server answered with an error of
// category, one of a fixed set (reqerr.Kinds), so the label stays bounded.
func (m *Metrics) CountError(server, category string) {
	if m == nil {
		return
	}
	m.errors.WithLabelValues(server, category).Inc()
}
