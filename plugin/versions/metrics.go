package versions

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the Version Controller. A nil *Metrics records nothing.
type Metrics struct {
	events *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{events: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "fnmgr", Subsystem: "versions", Name: "events_total",
		Help: "Version controller events: adopted functions, revisions, publishes, reverted outside changes, malformed documents, revisions left untracked (code outside CouchDB that could not be read), copied stubs.",
	}, []string{"event"})}
	reg.MustRegister(m.events)
	return m
}

func (m *Metrics) inc(event string) {
	if m != nil {
		m.events.WithLabelValues(event).Inc()
	}
}

func (m *Metrics) adopted()   { m.inc("adopted") }
func (m *Metrics) revision()  { m.inc("revision") }
func (m *Metrics) published() { m.inc("published") }
func (m *Metrics) reverted()  { m.inc("reverted") }
func (m *Metrics) malformed() { m.inc("malformed") }
func (m *Metrics) enforced()  { m.inc("enforced") }

// untrackedCode counts revisions whose code, kept outside CouchDB, could
// not be read.
func (m *Metrics) untrackedCode() { m.inc("untracked") }

// spoofed counts actions that carry the stub marker but are no stub fnmgr
// wrote (a copied stub, perhaps with code appended).
func (m *Metrics) spoofed() { m.inc("spoofed_stub") }
