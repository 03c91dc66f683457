package actionrt

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Scheduling: which worker runs an activation, and the pool's memory
// accounting. The sum of MemoryMB of live workers (busy, idle, or being
// started) never exceeds UserMemoryMB. All *Locked methods need p.mu.

func (p *Pool) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// acquire returns a warm idle worker with the action's key, or reserves
// memory for a new one (cold is true; it is not started yet). When the
// pool is full it evicts idle workers, least recently used first, and
// otherwise waits for memory to free.
func (p *Pool) acquire(ctx context.Context, key string, memMB int) (w *worker, cold bool, err error) {
	p.mu.Lock()
	for {
		if p.closed {
			p.mu.Unlock()
			return nil, false, ErrClosed
		}
		if w := p.warmLocked(key); w != nil {
			p.takeLocked(w)
			p.mu.Unlock()
			return w, false, nil
		}
		var victims []*worker
		for p.usedMB+memMB > p.opts.UserMemoryMB {
			v := p.lruIdleLocked()
			if v == nil {
				break
			}
			p.removeLocked(v)
			victims = append(victims, v)
		}
		if p.usedMB+memMB <= p.opts.UserMemoryMB {
			w = newWorker(p.nextID, key, memMB, p.scratch)
			p.nextID++
			w.busy = true
			p.workers[w] = struct{}{}
			p.usedMB += memMB
			p.mu.Unlock()
			p.destroyAll(victims, "evicted")
			return w, true, nil
		}
		ch := p.changed
		p.waiting++
		p.mu.Unlock()
		p.destroyAll(victims, "evicted")
		select {
		case <-ch:
		case <-ctx.Done():
		}
		p.mu.Lock()
		p.waiting--
		if err := ctx.Err(); err != nil {
			p.mu.Unlock()
			return nil, false, fmt.Errorf("actionrt: wait for pool memory: %w", err)
		}
	}
}

// warmLocked returns the most recently used idle worker with key.
func (p *Pool) warmLocked(key string) *worker {
	var best *worker
	for w := range p.workers {
		if !w.busy && w.key == key && !w.exited() && (best == nil || w.lastUsed.After(best.lastUsed)) {
			best = w
		}
	}
	return best
}

// lruIdleLocked returns the least recently used idle worker.
func (p *Pool) lruIdleLocked() *worker {
	var best *worker
	for w := range p.workers {
		if !w.busy && (best == nil || w.lastUsed.Before(best.lastUsed)) {
			best = w
		}
	}
	return best
}

func (p *Pool) takeLocked(w *worker) {
	w.busy = true
	w.idleGen++
	if w.idleTimer != nil {
		w.idleTimer.Stop()
		w.idleTimer = nil
	}
}

func (p *Pool) removeLocked(w *worker) {
	if _, ok := p.workers[w]; !ok {
		return
	}
	delete(p.workers, w)
	p.usedMB -= w.memMB
	if w.idleTimer != nil {
		w.idleTimer.Stop()
		w.idleTimer = nil
	}
	p.notifyLocked()
}

// release returns a worker after a run: kept warm unless keep is false
// or the pool is closing.
func (p *Pool) release(w *worker, keep bool, why string) {
	p.mu.Lock()
	if !keep || p.closed {
		p.removeLocked(w)
		p.mu.Unlock()
		p.destroyAll([]*worker{w}, why)
		return
	}
	if w.exited() {
		// It died after answering (say, a crash in a late timer): the
		// watch goroutine has already given up on it while it was busy.
		p.removeLocked(w)
		p.mu.Unlock()
		p.destroyAll([]*worker{w}, "exited after its run")
		return
	}
	w.busy = false
	w.lastUsed = time.Now()
	w.idleGen++
	gen := w.idleGen
	w.idleTimer = time.AfterFunc(p.opts.IdleTimeout, func() { p.expire(w, gen) })
	p.notifyLocked()
	p.mu.Unlock()
}

func (p *Pool) expire(w *worker, gen int) {
	p.mu.Lock()
	if _, ok := p.workers[w]; !ok || w.busy || w.idleGen != gen {
		p.mu.Unlock()
		return
	}
	p.removeLocked(w)
	p.mu.Unlock()
	p.destroyAll([]*worker{w}, "idle timeout")
}

// watch removes a worker whose process exits while it is idle (say, an
// unhandled rejection after its activation ended).
func (p *Pool) watch(w *worker) {
	select {
	case <-w.done:
	case <-w.closing:
		return
	}
	p.mu.Lock()
	if _, ok := p.workers[w]; !ok || w.busy {
		p.mu.Unlock()
		return
	}
	p.removeLocked(w)
	p.mu.Unlock()
	p.destroyAll([]*worker{w}, "exited while idle")
}

func (p *Pool) destroyAll(ws []*worker, why string) {
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.destroy(); err != nil {
				p.log.Error("destroy worker", "worker", w.id, "reason", why, "err", err)
				return
			}
			p.log.Debug("worker destroyed", "worker", w.id, "key", w.key, "reason", why)
		}()
	}
	wg.Wait()
}
