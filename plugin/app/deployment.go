package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/fnmgr/fnmgr/kafka/message"
	"github.com/fnmgr/fnmgr/plugin/config"
	"github.com/fnmgr/fnmgr/plugin/deployment"
)

// activityWindow is how recent a health ping or an activation event must be
// for /readyz not to warn.
const activityWindow = time.Minute

// activityWarnings says what fnmgr runs without when no health ping or no
// activation event arrived within activityWindow, and which OpenWhisk
// setting turns them on. fnmgr is ready without them: memory settings are
// then bounded by the controller's limits (plugin/deployment).
func activityWarnings(cfg config.Options, lastPing, lastEvent func() time.Time, now func() time.Time) func(context.Context) []string {
	return func(context.Context) []string {
		var out []string
		t := now()
		if p := lastPing(); t.Sub(p) > activityWindow {
			w := fmt.Sprintf("no invoker health ping on %s in the last minute: MAX_MEMORY is unknown, so memory settings are bounded by the controller's limits alone, and invokers are not listed; "+
				"OpenWhisk's scheduler mode (FPCPoolBalancer) sends no pings: set --max-memory (FNMGR_MAX_MEMORY) to the invokers' user memory", cfg.Topic(message.TopicHealth))
			if cfg.MaxMemoryMB > 0 {
				w = fmt.Sprintf("no invoker health ping on %s in the last minute: MAX_MEMORY is the configured %d MB (--max-memory); invokers are not listed", cfg.Topic(message.TopicHealth), cfg.MaxMemoryMB)
			}
			out = append(out, w)
		}
		if e := lastEvent(); t.Sub(e) > activityWindow {
			out = append(out, fmt.Sprintf("no activation event on %s in the last minute: no activity statistics, no passive optimization, no alert when code runs while BLOCKED; "+
				"turn on OpenWhisk's user events (whisk.userEvents.enabled; Helm: metrics.userMetricsEnabled=true; ansible: user_events_enabled=true), or there was no activation", cfg.Topic(message.TopicEvents)))
		}
		return out
	}
}

// checkStubKind refuses to start with a --stub-kind the controller does not
// offer. A controller that does not answer yet is no reason to stop: the
// kind is checked again each time a stub is written.
func checkStubKind(ctx context.Context, dep *deployment.Info, kind string, log *slog.Logger) error {
	if kind == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := dep.Root(ctx); err != nil {
		log.Warn("cannot check the stub kind yet: the controller does not answer", "kind", kind, "err", err)
		return nil
	}
	return dep.CheckStubKind(ctx)
}

// stageChecks refuses to start with settings the deployment does not
// accept (a --stub-kind the controller does not offer).
func (a *App) stageChecks(ctx context.Context) error {
	if err := checkStubKind(ctx, a.d.dep, a.opts.Config.StubKind, a.log); err != nil {
		return fmt.Errorf("app: %w", err)
	}
	return nil
}
