package app

import (
	"context"
	"fmt"
	"sync"
)

// background runs the app's long-lived goroutines under one context that
// Stop cancels; their failures go to report, none exits the process.
type background struct {
	ctx    context.Context
	wg     sync.WaitGroup
	report func(error)
}

// start makes the context (detached from Start's, which only bounds
// starting) and registers the teardown that cancels it and waits.
func (b *background) start(ctx context.Context, lc *lifecycle, report func(error)) {
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b.ctx, b.report = bg, report
	lc.onStop("background work", func(ctx context.Context) error {
		cancel()
		done := make(chan struct{})
		go func() { b.wg.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("background work did not stop: %w", ctx.Err())
		}
	})
}

// run runs f in a goroutine; an error it returns before Stop is reported.
func (b *background) run(name string, f func(context.Context) error) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if err := f(b.ctx); err != nil && b.ctx.Err() == nil {
			b.report(fmt.Errorf("app: %s: %w", name, err))
		}
	}()
}
