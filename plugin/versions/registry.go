package versions

import (
	"context"
	"time"

	"github.com/fnmgr/fnmgr/plugin/registry"
)

// Registry is what the version controller uses of the Meta Registry
// (*registry.Store; registry.NewMemory in unit tests).
type Registry interface {
	GetFunction(ctx context.Context, ns, name string) (registry.Function, error)
	Update(ctx context.Context, ns, name string, fn func(f *registry.Function) error) (registry.Function, error)
	UpdateKnown(ctx context.Context, f registry.Function, fn func(f *registry.Function) error) (registry.Function, error)
	Create(ctx context.Context, ns, name string, fn func(f *registry.Function) error) (registry.Function, error)
	PutRevision(ctx context.Context, ns, name string, r registry.Revision) (registry.Revision, error)
	GetRevision(ctx context.Context, ns, name string, n int) (registry.Revision, error)
	Revisions(ctx context.Context, ns, name string, limit, skip int) ([]registry.Revision, error)
	PutVersion(ctx context.Context, ns, name string, v registry.Version) (registry.Version, error)
	GetVersion(ctx context.Context, ns, name string, n int) (registry.Version, error)
	DeleteDoc(ctx context.Context, id, rev string) error
	AddHistoryOnce(ctx context.Context, ns, name string, key time.Time, h registry.History) error
}

var _ Registry = (*registry.Store)(nil)
