package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fnmgr/fnmgr/plugin/app"
	"github.com/fnmgr/fnmgr/plugin/cli"
	"github.com/fnmgr/fnmgr/plugin/config"
	"github.com/fnmgr/fnmgr/plugin/httpapi"
)

const serveLong = `Runs fnmgr: the admin API (--admin-addr) and the gateway (--gateway-addr), the
change-feed followers and the Kafka listeners, until SIGINT or SIGTERM. Settings come
from flags, FNMGR_* variables and a JSON --config file, in that order of precedence.
On SIGHUP it reads its configuration again and applies the controllers and the log
level; other settings need a restart.`

const serveExample = "fnmgr serve --config /etc/fnmgr/fnmgr.json"

// serveCommand is `fnmgr serve`; hup delivers SIGHUP.
func serveCommand(hup <-chan os.Signal) *cli.Command {
	return &cli.Command{Name: "serve", Summary: "run the daemon: admin API and gateway", Long: serveLong,
		Example: serveExample,
		Raw: func(ctx context.Context, args []string, e cli.Env) error {
			return serve(ctx, args, e, hup)
		}}
}

// serve runs the daemon until ctx ends (SIGINT, SIGTERM) or a component
// fails, then stops it within the shutdown timeout.
func serve(ctx context.Context, args []string, e cli.Env, hup <-chan os.Signal) error {
	cfg, err := config.Parse("fnmgr serve", args, e.Getenv, e.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(e.Stderr, "\n%s\n\nExamples:\n  %s\n", serveLong, serveExample)
	}
	if err != nil {
		return err
	}
	level := new(slog.LevelVar)
	level.Set(cfg.LogLevel)
	log := newLogger(e.Stderr, cfg, level)
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
		if ctx.Err() != nil {
			// SIGINT or SIGTERM while starting (Start unwound): a clean stop.
			log.Info("signal received while starting; stopped", "err", err)
			return nil
		}
		return err
	}
	r, err := app.NewReloader(app.ReloaderOptions{Args: args, Getenv: e.Getenv, Logger: log, Level: level,
		Controllers: a, Current: cfg, Registerer: reg})
	if err != nil {
		return errors.Join(err, a.Stop(context.WithoutCancel(ctx)))
	}
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			log.Info("signal received; stopping")
			break loop
		case runErr = <-a.Err():
			log.Error("a component failed; stopping", "err", runErr)
			break loop
		case <-hup:
			r.Reload()
		}
	}
	// ctx is done: stop under a fresh deadline (Stop applies the timeout).
	if err := a.Stop(context.WithoutCancel(ctx)); err != nil {
		return errors.Join(runErr, fmt.Errorf("stop: %w", err))
	}
	return runErr
}

// newLogger is the daemon's logger. Every line logged with a request's
// context (admin API, gateway, and what their handlers call) carries the
// request's id as request_id (httpapi.LogHandler).
func newLogger(w io.Writer, cfg config.Options, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if cfg.LogFormat == config.LogFormatText {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(httpapi.LogHandler(h))
}
