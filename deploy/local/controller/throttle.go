package controller

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/fnmgr/fnmgr/kafka/message"
)

// OpenWhisk's throttle messages (http/ErrorResponse.scala Messages
// tooManyRequests and tooManyConcurrentRequests, used by
// entitlement/ActivationThrottler.scala TimedRateLimit and
// ConcurrentRateLimit). Trigger fires share the per-minute text.
func msgTooManyRequests(count, allowed int) string {
	return fmt.Sprintf("Too many requests in the last minute (count: %d, allowed: %d).", count, allowed)
}

func msgTooManyConcurrent(count, allowed int) string {
	return fmt.Sprintf("Too many concurrent requests in flight (count: %d, allowed: %d).", count, allowed)
}

// rateWindow is RateThrottler's RateInfo for every namespace: a count per
// wall-clock minute, charged by every check (a refused request counts too).
type rateWindow struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*rateInfo // namespace uuid → its minute
}

type rateInfo struct {
	minute int64
	count  int
}

func newRateWindow(now func() time.Time) *rateWindow {
	return &rateWindow{now: now, m: map[string]*rateInfo{}}
}

// charge counts one request of uuid in the current minute and returns the
// count, this request included.
func (w *rateWindow) charge(uuid string) int {
	minute := w.now().UnixMilli() / 60000
	w.mu.Lock()
	defer w.mu.Unlock()
	ri := w.m[uuid]
	if ri == nil {
		ri = &rateInfo{minute: minute}
		w.m[uuid] = ri
	}
	if ri.minute != minute {
		ri.minute, ri.count = minute, 0
	}
	ri.count++
	return ri.count
}

// throttles are the per-namespace checks of Entitlement.checkThrottles.
type throttles struct {
	invokes, fires *rateWindow
}

func newThrottles(now func() time.Time) throttles {
	return throttles{invokes: newRateWindow(now), fires: newRateWindow(now)}
}

// limitFor is Entitlement.calculateLimit/calculateIndividualLimit: the
// namespace's override or the system value, divided among the controllers
// when divide is set (at least 1 unless the limit is 0).
func limitFor(system int, override *int, controllers int, divide bool) int {
	l := system
	if override != nil {
		l = *override
	}
	if l == 0 || !divide || controllers <= 1 {
		return l
	}
	return max(l/controllers, 1)
}

// checkInvokeThrottles charges one invocation of id's namespace and answers
// OpenWhisk's 429 when it is over its per-minute rate or its concurrent
// invocations (in that order, as Entitlement.checkThrottles does).
func (c *Controller) checkInvokeThrottles(ctx context.Context, id *identity) error {
	sys := c.opts.Limits
	var perMin, conc *int
	if l := id.Limits; l != nil {
		perMin, conc = l.InvocationsPerMinute, l.ConcurrentInvocations
	}
	allowed := limitFor(sys.InvocationsPerMinute, perMin, c.opts.Controllers, true)
	if n := c.throttles.invokes.charge(id.UUID); n > allowed {
		return c.throttled(ctx, id, "TimedRateLimit", msgTooManyRequests(n, allowed))
	}
	allowed = limitFor(sys.ConcurrentInvocations, conc, c.opts.Controllers, !sys.SharedConcurrency)
	if n := c.inflight.count(id.Namespace); n >= allowed { // slack for this request
		return c.throttled(ctx, id, "ConcurrentRateLimit", msgTooManyConcurrent(n, allowed))
	}
	return nil
}

// checkFireThrottle charges one trigger fire of id's namespace.
func (c *Controller) checkFireThrottle(ctx context.Context, id *identity) error {
	var perMin *int
	if l := id.Limits; l != nil {
		perMin = l.FiresPerMinute
	}
	allowed := limitFor(c.opts.Limits.FiresPerMinute, perMin, c.opts.Controllers, true)
	if n := c.throttles.fires.charge(id.UUID); n > allowed {
		return c.throttled(ctx, id, "TimedRateLimit", msgTooManyRequests(n, allowed))
	}
	return nil
}

// throttled is Entitlement.checkThrottleOverload's refusal: a metric user
// event named after the limit, and a 429 with the message.
func (c *Controller) throttled(ctx context.Context, id *identity, limitName, msg string) error {
	c.log.Info("namespace has exceeded its throttle limit", "namespace", id.Namespace, "limit", msg)
	c.emitEvent(ctx, message.Event{
		Source: c.instance, Subject: id.Subject, Namespace: id.Namespace, UserID: id.UUID,
		EventType: message.EventMetric, Timestamp: time.Now().UnixMilli(),
		Metric: &message.MetricEvent{MetricName: limitName, MetricValue: 1},
	})
	return errStatus(http.StatusTooManyRequests, msg)
}
