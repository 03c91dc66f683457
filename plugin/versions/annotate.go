package versions

import (
	"context"
	"sync"
	"time"
)

// annotator writes fnmgr-state/fnmgr-version on a function's action a
// while after the last change fnmgr saw of it, rather than at once: every
// direct write to an action makes a controller whose cached copy is stale
// answer a user's next `wsk action update` with 409 (as OpenWhisk itself
// does), so fnmgr keeps out of the way of bursts of updates. Operations a
// user asks fnmgr for (publish, block, …) write at once.
type annotator struct {
	delay  time.Duration
	when   func() bool // nil: always
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	timers map[string]*time.Timer
	wg     sync.WaitGroup
}

func newAnnotator(delay time.Duration, when func() bool) *annotator {
	ctx, cancel := context.WithCancel(context.Background())
	return &annotator{delay: delay, when: when, ctx: ctx, cancel: cancel, timers: map[string]*time.Timer{}}
}

// schedule runs f (keyed by function) once no schedule of the same key
// came for delay.
func (a *annotator) schedule(key string, f func(ctx context.Context)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ctx.Err() != nil {
		return
	}
	if t, ok := a.timers[key]; ok && t.Stop() {
		a.wg.Done()
	}
	a.wg.Add(1)
	a.timers[key] = time.AfterFunc(a.delay, func() {
		defer a.wg.Done()
		if a.when != nil && !a.when() {
			a.schedule(key, f) // not yet: wait another delay
			return
		}
		a.mu.Lock()
		delete(a.timers, key)
		a.mu.Unlock()
		ctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
		defer cancel()
		f(ctx)
	})
}

// close cancels pending writes and waits for running ones.
func (a *annotator) close() {
	a.mu.Lock()
	a.cancel()
	for k, t := range a.timers {
		if t.Stop() {
			a.wg.Done()
		}
		delete(a.timers, k)
	}
	a.mu.Unlock()
	a.wg.Wait()
}

// scheduleAnnotations syncs ns/name's annotations after the quiet delay.
func (c *Controller) scheduleAnnotations(ns, name string) {
	c.ann.schedule(ns+"/"+name, func(ctx context.Context) {
		defer Lock(ns, name)()
		f, err := c.reg.GetFunction(ctx, ns, name)
		if err != nil || f.Transition != nil {
			return
		}
		if err := c.syncAnnotations(ctx, f); err != nil && ctx.Err() == nil {
			c.log.WarnContext(ctx, "annotate the function's action", "function", f.FQN(), "err", err)
		}
	})
}

// Close stops the controller's pending background writes.
func (c *Controller) Close() { c.ann.close() }
