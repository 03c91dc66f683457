package app

import (
	"io"
	"log/slog"
	"net/url"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fnmgr/fnmgr/plugin/config"
)

// ControllerSetter changes the gateway's controllers while fnmgr runs
// (*App is one).
type ControllerSetter interface {
	SetControllers(urls []*url.URL) error
}

// ReloaderOptions configures a Reloader.
type ReloaderOptions struct {
	// Args and Getenv are what the configuration is parsed from again
	// (the command line without the program and subcommand names, and the
	// environment); the --config file is read anew.
	Args   []string
	Getenv func(string) string
	Logger *slog.Logger
	// Level is the running log level, changed in place.
	Level *slog.LevelVar
	// Controllers receives a changed controller set.
	Controllers ControllerSetter
	// Current is the configuration running now.
	Current config.Options
	// Registerer takes fnmgr_config_reloads_total; none when nil.
	Registerer prometheus.Registerer
}

// Reloader re-reads the configuration (on SIGHUP) and applies what can
// change while fnmgr runs: the controllers and the log level. Other
// changes are logged as needing a restart. It is not safe for concurrent
// use: one goroutine (the signal loop) calls Reload.
type Reloader struct {
	o       ReloaderOptions
	log     *slog.Logger
	current config.Options
	metric  *prometheus.CounterVec
}

// NewReloader returns a Reloader and registers its metric.
func NewReloader(o ReloaderOptions) (*Reloader, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "fnmgr", Subsystem: "config", Name: "reloads_total",
		Help: "Configuration reloads on SIGHUP, by outcome (ok, invalid).",
	}, []string{"outcome"})
	if o.Registerer != nil {
		if err := o.Registerer.Register(m); err != nil {
			return nil, err
		}
	}
	return &Reloader{o: o, log: o.Logger.With("component", "config"), current: o.Current, metric: m}, nil
}

// Reload parses the configuration again and applies it. An invalid
// configuration changes nothing.
func (r *Reloader) Reload() {
	next, err := config.Parse("fnmgr serve", r.o.Args, r.o.Getenv, io.Discard)
	if err != nil {
		r.metric.WithLabelValues("invalid").Inc()
		r.log.Error("reload: the configuration is invalid; keeping the running one", "err", err)
		return
	}
	r.metric.WithLabelValues("ok").Inc()
	applied, restart := []string{}, []string{}
	for _, name := range changed(r.current, next) {
		switch name {
		case "log_level":
			r.o.Level.Set(next.LogLevel)
			applied = append(applied, name)
		case "controllers":
			if err := r.o.Controllers.SetControllers(next.Controllers); err != nil {
				r.log.Error("reload: the controllers were not changed", "err", err)
				next.Controllers = r.current.Controllers
				continue
			}
			applied = append(applied, name)
		default:
			restart = append(restart, name)
		}
	}
	// What needs a restart stays as it runs, so that it is reported again.
	kept := r.current
	kept.LogLevel, kept.Controllers = next.LogLevel, next.Controllers
	r.current = kept
	r.log.Info("configuration reloaded", "applied", applied, "config", next)
	if len(restart) > 0 {
		r.log.Warn("reload: these settings change only on a restart", "settings", restart)
	}
}

// changed names the settings (as Options.LogValue names them) that differ;
// values are compared redacted, so secrets are compared by whether they
// are set.
func changed(a, b config.Options) []string {
	av, bv := a.LogValue().Group(), b.LogValue().Group()
	var out []string
	for i := range av {
		if i < len(bv) && !av[i].Value.Equal(bv[i].Value) {
			out = append(out, av[i].Key)
		}
	}
	if a.AdminToken != b.AdminToken && !slices.Contains(out, "admin_token") {
		out = append(out, "admin_token")
	}
	if a.CouchURL.String() != b.CouchURL.String() && !slices.Contains(out, "couchdb_url") {
		out = append(out, "couchdb_url")
	}
	return out
}
