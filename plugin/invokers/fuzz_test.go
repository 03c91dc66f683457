package invokers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fnmgr/fnmgr/kafka/consumer"
)

// FuzzHandle feeds the health listener's handler any message value: it
// never panics; what it cannot use is consumer.ErrMalformed (skipped),
// never another error (retried forever); and MAX_MEMORY never turns
// negative, whatever user memory a ping claims. Seeds are in
// testdata/fuzz/FuzzHandle.
func FuzzHandle(f *testing.F) {
	f.Fuzz(func(t *testing.T, value []byte) {
		tr := New(time.Minute, 0)
		err := tr.Handle(context.Background(), "health", value)
		if err != nil && !errors.Is(err, consumer.ErrMalformed) {
			t.Fatalf("an error the consumer would retry forever: %v", err)
		}
		if tr.MaxMemoryMB() < 0 {
			t.Fatalf("MAX_MEMORY %d after %s", tr.MaxMemoryMB(), value)
		}
		for _, inv := range tr.Invokers() {
			if inv.UserMemoryMB < 0 {
				t.Fatalf("invoker %d with %d MB", inv.Instance, inv.UserMemoryMB)
			}
		}
	})
}
