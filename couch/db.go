package couch

import (
	"context"
	"errors"
	"fmt"

	kivik "github.com/go-kivik/kivik/v4"
)

// EnsureDB creates the database name unless it exists. Losing a creation race
// to another client (412 Precondition Failed) counts as success. Checking
// needs no admin rights; creating does.
func EnsureDB(ctx context.Context, c *kivik.Client, name string) error {
	ok, err := c.DBExists(ctx, name)
	if err != nil {
		return fmt.Errorf("couch: check database %q: %w", name, err)
	}
	if ok {
		return nil
	}
	if err := c.CreateDB(ctx, name); err != nil && !errors.Is(Classify(err), ErrExists) {
		return fmt.Errorf("couch: create database %q: %w", name, err)
	}
	return nil
}
