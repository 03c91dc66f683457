// Command localstack runs fnmgr's local stack in the foreground (`make run`):
// CouchDB, Kafka, the OpenWhisk-compatible controller and invoker, and fnmgr,
// on 127.0.0.1. It writes LOCAL_DIR/endpoints.json when everything is ready
// and stops everything on Ctrl-C or SIGTERM. See `localstack --help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/fnmgr/fnmgr/deploy/local/stack"
)

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts, err := stack.ParseFlags("localstack", os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "localstack:", err)
		return 2
	}
	opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := stack.New(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "localstack:", err)
		return 1
	}
	if err := s.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "localstack:", err)
		return 1
	}
	<-ctx.Done()
	stop()
	// A second signal (Ctrl-C again, or SIGTERM to the whole process group
	// after one to this process) cuts the stop short, but never leaves an
	// action's process or cgroup behind.
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	sctx, cancel := context.WithTimeout(context.Background(), 2*stack.DefaultStopTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Stop(sctx) }()
	select {
	case err := <-done:
		if err != nil {
			fmt.Fprintln(os.Stderr, "localstack:", err)
			return 1
		}
		return 0
	case sig := <-again:
		fmt.Fprintf(os.Stderr, "localstack: %s again: killing the actions and exiting\n", sig)
		if err := s.KillActions(); err != nil {
			fmt.Fprintln(os.Stderr, "localstack:", err)
		}
		return 1
	}
}
