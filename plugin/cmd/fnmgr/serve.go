package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fnmgr/fnmgr/plugin/app"
	"github.com/fnmgr/fnmgr/plugin/config"
)

// serve runs the daemon until ctx ends (SIGINT, SIGTERM) or a component
// fails, then stops it within the shutdown timeout.
func serve(ctx context.Context, args []string, e env) error {
	cfg, err := config.Parse("fnmgr serve", args, e.getenv, e.stderr)
	if err != nil {
		return err
	}
	log := newLogger(e.stderr, cfg)
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "fnmgr_build_info",
			Help:        "Always 1; the version label is fnmgr's version.",
			ConstLabels: prometheus.Labels{"version": version},
		}, func() float64 { return 1 }),
	)
	a, err := app.New(app.Options{Config: cfg, Logger: log, Registry: reg})
	if err != nil {
		return err
	}
	log.Info("fnmgr", "version", version)
	if err := a.Start(ctx); err != nil {
		return err
	}
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("signal received; stopping")
	case runErr = <-a.Err():
		log.Error("a component failed; stopping", "err", runErr)
	}
	// ctx is done: stop under a fresh deadline (Stop applies the timeout).
	if err := a.Stop(context.WithoutCancel(ctx)); err != nil {
		return errors.Join(runErr, fmt.Errorf("stop: %w", err))
	}
	return runErr
}

func newLogger(w io.Writer, cfg config.Options) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == config.LogFormatText {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
