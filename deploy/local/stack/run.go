package stack

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Main is cmd/localstack: it parses args (with getenv), starts the stack,
// runs until SIGINT or SIGTERM and stops it, and returns the exit code. A
// second signal during the stop cuts it short but still kills every action
// worker and removes its cgroups.
func Main(name string, args []string, getenv func(string) string, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts, err := ParseFlags(name, args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := New(opts)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	// Listen for the second signal from the start: one that arrives while
	// the first is being handled must not kill the process the default way.
	again := make(chan os.Signal, 2)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	if err := s.Start(ctx); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	<-ctx.Done()
	select { // the signal that ended ctx, unless it came before Notify
	case <-again:
	case <-time.After(100 * time.Millisecond):
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*DefaultStopTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Stop(sctx) }()
	select {
	case err := <-done:
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 1
		}
		return 0
	case sig := <-again:
		fmt.Fprintf(stderr, "%s: %s again: killing the actions and exiting\n", name, sig)
		if err := s.KillActions(); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
		}
		return 1
	}
}
