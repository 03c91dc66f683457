package app

import (
	"context"
	"time"
)

// Readiness conditions of the leader's stages.
const (
	condChanges  = "changes"
	condKafka    = "kafka"
	condRecovery = "recovery"
)

// stagePoll paces the waits of the leader's stages on a condition that
// has no channel (a change feed having caught up), and the retries of a
// recovery that failed.
const stagePoll = 50 * time.Millisecond

// lead runs the leader's stages in order: feed caught up, recover, clean
// up, purge and serve. It returns when they are done (the work they
// started goes on in the background) or when ctx ends.
func (a *App) lead(ctx context.Context) error {
	a.ready.set(condRecovery, "finishing transitions a restart cut short")
	a.leading.Store(true)
	a.stageFeeds()
	if !a.await(ctx, a.d.whisks.CaughtUp) {
		return nil
	}
	if !a.stageRecover(ctx) {
		return nil
	}
	a.stageCleanup(ctx)
	a.bg.run("purge", func(ctx context.Context) error { return a.d.lifecycle.Run(ctx, time.Minute) })
	a.log.Info("leading", "replica", a.opts.Config.ReplicaID)
	return nil
}

// stageFeeds follows OpenWhisk's whisks change feed into the version
// controller and joins the Kafka consumer groups.
func (a *App) stageFeeds() {
	a.ready.watch(condChanges, func() string {
		return pending(a.d.whisks.CaughtUp(), "catching up with the whisks change feed")
	})
	a.ready.watch(condKafka, func() string {
		return pending(a.d.health.Joined() && a.d.events.Joined(), "joining the Kafka consumer groups")
	})
	a.bg.run("whisks change feed", a.d.whisks.Run)
	a.bg.run("health listener", a.d.health.Run)
	a.bg.run("events listener", a.d.events.Run)
}

// stageRecover finishes the transitions a crash cut short (an earlier
// leader's intents), once the registry has seen every change; it tries
// again until it succeeds or ctx ends.
func (a *App) stageRecover(ctx context.Context) bool {
	for {
		err := a.d.lifecycle.Recover(ctx)
		if err == nil {
			a.ready.set(condRecovery, "")
			return true
		}
		a.log.Warn("recovering interrupted transitions", "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(stagePoll):
		}
	}
}

// stageCleanup deletes the probe copies a crash left behind, before any
// new optimization runs.
func (a *App) stageCleanup(ctx context.Context) {
	if err := a.d.optimizer.Cleanup(ctx); err != nil {
		a.log.Warn("delete probe copies left by an earlier run", "err", err)
	}
}

// await waits until cond holds (true) or ctx ends (false).
func (a *App) await(ctx context.Context, cond func() bool) bool {
	t := time.NewTicker(stagePoll)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}
