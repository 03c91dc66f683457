package lifecycle

import (
	"context"
	"time"

	"github.com/fnmgr/fnmgr/plugin/registry"
)

// Registry is what the lifecycle controller uses of the Meta Registry
// (*registry.Store; registry.NewMemory in unit tests).
type Registry interface {
	GetFunction(ctx context.Context, ns, name string) (registry.Function, error)
	Update(ctx context.Context, ns, name string, fn func(f *registry.Function) error) (registry.Function, error)
	Functions(ctx context.Context, ns string, each func(registry.Function) error) error
	GetRevision(ctx context.Context, ns, name string, n int) (registry.Revision, error)
	Revisions(ctx context.Context, ns, name string, limit, skip int) ([]registry.Revision, error)
	Versions(ctx context.Context, ns, name string) ([]registry.Version, error)
	AddHistory(ctx context.Context, ns, name string, h registry.History) error
	AddHistoryOnce(ctx context.Context, ns, name string, key time.Time, h registry.History) error
	History(ctx context.Context, ns, name string) ([]registry.History, error)
	Digests(ctx context.Context) (map[string]bool, error)
	DeleteDoc(ctx context.Context, id, rev string) error
}

var _ Registry = (*registry.Store)(nil)
