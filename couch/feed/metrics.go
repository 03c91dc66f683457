package feed

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of a Follower. A nil *Metrics records nothing.
type Metrics struct {
	changes    *prometheus.CounterVec
	handleTime prometheus.Histogram
	reconnects prometheus.Counter
}

// NewMetrics registers the follower's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "fnmgr", Subsystem: "feed", Name: "changes_total",
			Help: "Changes read from the whisks change feed, by outcome.",
		}, []string{"outcome"}),
		handleTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "fnmgr", Subsystem: "feed", Name: "handle_seconds",
			Help:    "Time to process one change.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "fnmgr", Subsystem: "feed", Name: "reconnects_total",
			Help: "Times the change feed connection was re-established.",
		}),
	}
	reg.MustRegister(m.changes, m.handleTime, m.reconnects)
	return m
}

func (m *Metrics) handled(d time.Duration) {
	if m == nil {
		return
	}
	m.changes.WithLabelValues("ok").Inc()
	m.handleTime.Observe(d.Seconds())
}

func (m *Metrics) failed() {
	if m == nil {
		return
	}
	m.changes.WithLabelValues("error").Inc()
}

func (m *Metrics) reconnect() {
	if m == nil {
		return
	}
	m.reconnects.Inc()
}
