package analyzer

import (
	"context"
	"errors"
	"testing"

	"github.com/fnmgr/fnmgr/kafka/consumer"
	"github.com/fnmgr/fnmgr/plugin/registry"
)

// FuzzHandle feeds the events listener's handler any message value: it
// never panics, and what it cannot use is consumer.ErrMalformed (counted
// and skipped), never another error, which the consumer would retry
// forever. Seeds (testdata/fuzz/FuzzHandle) are the contract's events and
// edge cases.
func FuzzHandle(f *testing.F) {
	a := New(func(ns, name string) (registry.State, bool) { return registry.Blocked, name == "blocked" }, nil)
	f.Fuzz(func(t *testing.T, value []byte) {
		err := a.Handle(context.Background(), "events", value)
		if err != nil && !errors.Is(err, consumer.ErrMalformed) {
			t.Fatalf("an error the consumer would retry forever: %v", err)
		}
	})
}
