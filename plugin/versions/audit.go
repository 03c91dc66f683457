package versions

import (
	"context"
	"fmt"
	"time"

	"github.com/fnmgr/fnmgr/plugin/registry"
)

type byKey struct{}

// WithBy returns ctx naming who asked for the operations run with it (the
// admin API's caller): their history entries say so.
func WithBy(ctx context.Context, by string) context.Context {
	return context.WithValue(ctx, byKey{}, by)
}

func byOf(ctx context.Context) string {
	by, _ := ctx.Value(byKey{}).(string)
	return by
}

// audit records h, an operation on f that started at key, in f's history:
// once, however often it is recorded again (registry.AddHistoryOnce). From
// and To default to f's state, States to From and To.
func (c *Controller) audit(ctx context.Context, f registry.Function, key time.Time, h registry.History) error {
	h.At = c.now().UTC()
	if h.Started.IsZero() {
		h.Started = key.UTC()
	}
	h.DurationMs = max(h.At.Sub(h.Started).Milliseconds(), 0)
	if h.By == "" {
		h.By = byOf(ctx)
	}
	if h.From == "" {
		h.From = f.State
	}
	if h.To == "" {
		h.To = f.State
	}
	if h.States == nil {
		h.States = []registry.StateStay{{State: h.From}, {State: h.To}}
	}
	if h.Revision == 0 {
		h.Revision = f.Head.Revision
	}
	if h.Outcome == "" {
		h.Outcome = registry.OutcomeOK
	}
	if err := c.reg.AddHistoryOnce(ctx, f.Namespace, f.Name, key, h); err != nil {
		return fmt.Errorf("versions: record the %s of %s in its history: %w", h.Op, f.FQN(), err)
	}
	return nil
}

// byOpenWhisk is the "by" of changes made on OpenWhisk, outside fnmgr
// (OpenWhisk's documents do not say who wrote them).
const byOpenWhisk = "openwhisk"
