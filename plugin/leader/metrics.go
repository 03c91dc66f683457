package leader

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	isLeader      prometheus.Gauge
	epoch         prometheus.Gauge
	changes       prometheus.Counter
	renewFailures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (metrics, error) {
	m := metrics{
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "fnmgr", Subsystem: "leader", Name: "is_leader",
			Help: "1 while this replica holds the leader's lease, else 0."}),
		epoch: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "fnmgr", Subsystem: "leader", Name: "epoch",
			Help: "The lease epoch this replica last took (grows by one with every acquisition)."}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "fnmgr", Subsystem: "leader", Name: "changes_total",
			Help: "Changes of leader this replica observed (its own acquisitions included)."}),
		renewFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "fnmgr", Subsystem: "leader", Name: "lease_renew_failures_total",
			Help: "Renewals of the lease that failed (each is tried again until the lease's deadline)."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.isLeader, m.epoch, m.changes, m.renewFailures} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				continue
			}
			return m, fmt.Errorf("leader: metrics: %w", err)
		}
	}
	return m, nil
}
