package feed

import (
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of a Follower. A nil *Metrics records nothing.
type Metrics struct {
	changes    *prometheus.CounterVec
	handleTime prometheus.Histogram
	reconnects prometheus.Counter
	// lag is the time from a document's write (its "updated" field, epoch
	// milliseconds, as OpenWhisk writes it) to its processing.
	lag *prometheus.HistogramVec
	// last is when a change was last processed (Unix nanoseconds; 0: none
	// yet, then the metrics' creation counts).
	last    atomic.Int64
	created time.Time
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
	m.created = time.Now()
	m.lag = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "fnmgr", Subsystem: "feed", Name: "lag_seconds",
		Help: "Time from a document's write (its updated field) to its processing; phase catchup while reading the backlog after a (re)connect, live on the continuous feed.",
		// 10 ms to about 11 hours.
		Buckets: prometheus.ExponentialBuckets(0.01, 4, 13),
	}, []string{"phase"})
	since := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "fnmgr", Subsystem: "feed", Name: "seconds_since_last_change",
		Help: "Seconds since the follower last processed a change (since it started, before the first).",
	}, func() float64 {
		last := time.Unix(0, m.last.Load())
		if m.last.Load() == 0 {
			last = m.created
		}
		return time.Since(last).Seconds()
	})
	reg.MustRegister(m.changes, m.handleTime, m.reconnects, m.lag, since)
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

// processed records a processed change: when, and (for documents with an
// "updated" time) how long after its write.
func (m *Metrics) processed(c Change, live bool) {
	if m == nil {
		return
	}
	now := time.Now()
	m.last.Store(now.UnixNano())
	var doc struct {
		Updated json.Number `json:"updated"`
	}
	if c.Deleted || len(c.Doc) == 0 || json.Unmarshal(c.Doc, &doc) != nil {
		return
	}
	ms, err := doc.Updated.Int64()
	if err != nil || ms <= 0 {
		return // no updated field, or not OpenWhisk's epoch milliseconds
	}
	phase := "catchup"
	if live {
		phase = "live"
	}
	m.lag.WithLabelValues(phase).Observe(max(now.Sub(time.UnixMilli(ms)).Seconds(), 0))
}
