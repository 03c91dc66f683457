package controller

import (
	"context"
	"sync"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/kafka/message"
)

// inflight counts the activations of each namespace that were sent and not
// yet completed (the load balancer's activation slots), for the
// ConcurrentInvocations metric.
type inflight struct {
	mu   sync.Mutex
	byID map[string]inflightEntry
	byNS map[string]int
}

type inflightEntry struct {
	ns      string
	expires time.Time
}

func newInflight() *inflight {
	return &inflight{byID: map[string]inflightEntry{}, byNS: map[string]int{}}
}

// add records activation id of ns and returns the namespace's count. An
// entry whose completion never arrives is dropped after ttl.
func (f *inflight) add(id, ns string, ttl time.Duration) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if len(f.byID) >= 1024 {
		for k, e := range f.byID {
			if now.After(e.expires) {
				f.dropLocked(k, e)
			}
		}
	}
	f.byID[id] = inflightEntry{ns: ns, expires: now.Add(ttl)}
	f.byNS[ns]++
	return f.byNS[ns]
}

// count is the number of ns's activations in flight.
func (f *inflight) count(ns string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byNS[ns]
}

// done frees the slot of id.
func (f *inflight) done(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.byID[id]; ok {
		f.dropLocked(id, e)
	}
}

func (f *inflight) dropLocked(id string, e inflightEntry) {
	delete(f.byID, id)
	if f.byNS[e.ns]--; f.byNS[e.ns] <= 0 {
		delete(f.byNS, e.ns)
	}
}

// emitEvent publishes a user event unless they are disabled. A failure is
// logged: events never fail an invocation.
func (c *Controller) emitEvent(ctx context.Context, ev message.Event) {
	if c.opts.DisableUserEvents {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := c.produce(ctx, c.opts.UserEventTopicPrefix+message.TopicEvents, ev); err != nil {
		c.log.Warn("user event not published", "type", ev.EventType, "err", err)
	}
}

// emitConcurrency sends the ConcurrentInvocations metric of an admitted
// activation.
func (c *Controller) emitConcurrency(ctx context.Context, id *identity, n int) {
	c.emitEvent(ctx, message.Event{
		Source: c.instance, Subject: id.Subject, Namespace: id.Namespace, UserID: id.UUID,
		EventType: message.EventMetric, Timestamp: time.Now().UnixMilli(),
		Metric: &message.MetricEvent{MetricName: "ConcurrentInvocations", MetricValue: int64(n)},
	})
}

// emitActivation sends the Activation event of an activation the controller
// wrote (a sequence), as EventMessage.from does.
func (c *Controller) emitActivation(ctx context.Context, id *identity, a entity.Activation) {
	if ev, ok := message.NewActivationEvent(&a, c.instance, id.UUID, time.Now()); ok {
		c.emitEvent(ctx, ev)
	}
}
