package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/fnmgr/fnmgr/plugin/admin"
	"github.com/fnmgr/fnmgr/plugin/leader"
	"github.com/fnmgr/fnmgr/plugin/openwhisk"
	"github.com/fnmgr/fnmgr/plugin/storage"
)

// The fence: every write this replica makes asks the lease's fencing
// check (leader.Elector.Check) right before it is sent. CouchDB writes go
// through the fenced client's WriteGate (build.go); the ones here cover
// Kafka's cache invalidations, the calls to controllers, and the bucket
// Storage Handler.

// fencedInvalidator sends a cache invalidation only while this replica
// leads.
type fencedInvalidator struct {
	inv   openwhisk.Invalidator
	check func() error
}

func (f fencedInvalidator) Invalidate(ctx context.Context, docid string) error {
	if err := f.check(); err != nil {
		return fmt.Errorf("app: invalidate %s: %w", docid, err)
	}
	return f.inv.Invalidate(ctx, docid)
}

// fencedTransport sends a request that is not a read (GET, HEAD) only
// while this replica leads.
type fencedTransport struct {
	base  http.RoundTripper
	check func() error
}

func (f fencedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		if err := f.check(); err != nil {
			if req.Body != nil {
				_ = req.Body.Close()
			}
			return nil, fmt.Errorf("app: %s %s refused: %w", req.Method, req.URL.Redacted(), err)
		}
	}
	return f.base.RoundTrip(req)
}

// fencedHTTP is an HTTP client for calls to the controllers, fenced.
func (a *App) fencedHTTP(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: fencedTransport{base: http.DefaultTransport, check: a.elector.Check}}
}

// fencedStore is a Storage Handler whose writes are fenced (the couch
// backend is fenced by its client already).
type fencedStore struct {
	storage.Store
	check func() error
}

func (f fencedStore) Put(ctx context.Context, ref storage.Ref, data []byte) (string, error) {
	if err := f.check(); err != nil {
		return "", fmt.Errorf("app: store %s: %w", ref.Function, err)
	}
	return f.Store.Put(ctx, ref, data)
}

func (f fencedStore) Delete(ctx context.Context, ref storage.Ref, digest string) error {
	if err := f.check(); err != nil {
		return fmt.Errorf("app: delete %s: %w", digest, err)
	}
	return f.Store.Delete(ctx, ref, digest)
}

// leadership is the admin API's view of the election.
type leadership struct{ e *leader.Elector }

func (l leadership) Leading() bool { return l.e.Leading() }

func (l leadership) Leader() (admin.LeaderInfo, error) {
	i, err := l.e.Leader()
	return admin.LeaderInfo{ID: i.ID, Admin: i.Admin, Epoch: i.Epoch}, err
}
