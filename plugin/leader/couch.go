package leader

import (
	"context"
	"fmt"

	"github.com/go-kivik/kivik/v4"

	"github.com/fnmgr/fnmgr/couch"
)

// CouchStore keeps the lease in a CouchDB database (fnmgr's registry).
type CouchStore struct{ DB *kivik.DB }

// Get reads the lease document.
func (s CouchStore) Get(ctx context.Context) (Lease, error) {
	var l Lease
	err := s.DB.Get(ctx, DocID).ScanDoc(&l)
	if couch.IsNotFound(err) {
		return Lease{}, ErrNotFound
	}
	if err != nil {
		return Lease{}, fmt.Errorf("leader: get the lease: %w", err)
	}
	return l, nil
}

// Put writes the lease document under CouchDB's revision check.
func (s CouchStore) Put(ctx context.Context, l Lease) (string, error) {
	rev, err := s.DB.Put(ctx, DocID, l)
	if couch.IsConflict(err) {
		return "", ErrConflict
	}
	if err != nil {
		return "", fmt.Errorf("leader: put the lease: %w", err)
	}
	return rev, nil
}
