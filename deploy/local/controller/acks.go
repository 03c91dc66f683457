package controller

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/kafka/message"
)

// waiters holds the blocking invocations waiting for their result, by
// activation id.
type waiters struct {
	mu sync.Mutex
	m  map[string]chan ackResult
}

// ackResult is what an ack tells a waiter: the activation, or only that it
// completed (shrunk message: read it from the activations database).
type ackResult struct {
	activation *entity.Activation
}

func newWaiters() *waiters { return &waiters{m: map[string]chan ackResult{}} }

// add registers a waiter for id before its message is sent.
func (ws *waiters) add(id string) <-chan ackResult {
	ch := make(chan ackResult, 1)
	ws.mu.Lock()
	ws.m[id] = ch
	ws.mu.Unlock()
	return ch
}

func (ws *waiters) remove(id string) {
	ws.mu.Lock()
	delete(ws.m, id)
	ws.mu.Unlock()
}

// complete hands res to the waiter of id, if any; it reports whether one
// was waiting.
func (ws *waiters) complete(id string, res ackResult) bool {
	ws.mu.Lock()
	ch, ok := ws.m[id]
	delete(ws.m, id)
	ws.mu.Unlock()
	if ok {
		ch <- res
	}
	return ok
}

// cancelAll closes every waiter (on Stop).
func (ws *waiters) cancelAll() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for id, ch := range ws.m {
		close(ch)
		delete(ws.m, id)
	}
}

// handleAck processes a message on completed<ID>: results and combined
// messages complete waiting invocations; completions (and combined
// messages) free the in-flight slot.
func (c *Controller) handleAck(b []byte) {
	var a message.Ack
	if err := message.Decode(b, &a); err != nil {
		c.log.Warn("bad ack message", "err", err)
		return
	}
	id := a.ID()
	if id == "" {
		return
	}
	kind := a.Kind()
	if kind == message.AckCompletion || kind == message.AckCombined {
		c.inflight.done(id)
	}
	if kind == message.AckResult || kind == message.AckCombined {
		res := ackResult{}
		if a.Response != nil {
			res.activation = a.Response.Activation
		}
		c.waiters.complete(id, res)
	}
}

// errWaitTimeout means the blocking wait ended without a result.
var errWaitTimeout = errors.New("controller: blocking wait timed out")

// awaitActivation waits for the result of activation id of namespace ns:
// the active ack (fast path), a database read when the ack carried only the
// id, and slow database polling in case the ack never comes
// (PrimitiveActions.waitForActivationResponse). It gives up after wait.
func (c *Controller) awaitActivation(ctx context.Context, ch <-chan ackResult, ns, id string, wait time.Duration) (entity.Activation, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	slow := time.NewTicker(c.opts.dbPoll)
	defer slow.Stop()
	var fast <-chan time.Time // polling after a shrunk ack
	fastDelay := 20 * time.Millisecond
	for {
		select {
		case res, ok := <-ch:
			if !ok {
				return entity.Activation{}, context.Canceled
			}
			ch = nil
			if res.activation != nil {
				return *res.activation, nil
			}
			if a, err := c.readActivation(ctx, ns, id); err == nil {
				return a, nil
			}
			fast = time.After(fastDelay)
		case <-fast:
			if a, err := c.readActivation(ctx, ns, id); err == nil {
				return a, nil
			}
			fastDelay = min(2*fastDelay, time.Second)
			fast = time.After(fastDelay)
		case <-slow.C:
			if a, err := c.readActivation(ctx, ns, id); err == nil {
				c.waiters.remove(id)
				return a, nil
			}
		case <-timer.C:
			c.waiters.remove(id)
			return entity.Activation{}, errWaitTimeout
		case <-ctx.Done():
			c.waiters.remove(id)
			return entity.Activation{}, ctx.Err()
		}
	}
}

// readActivation reads activation id of namespace ns, without logs as a
// blocking invoke returns it.
func (c *Controller) readActivation(ctx context.Context, ns, id string) (entity.Activation, error) {
	a, err := c.getActivation(ctx, ns, id)
	if err != nil {
		return a, err
	}
	a.Logs = []string{}
	return a, nil
}
