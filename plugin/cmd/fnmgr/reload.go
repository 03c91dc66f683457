package main

import (
	"io"
	"log/slog"
	"net/url"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fnmgr/fnmgr/plugin/config"
)

// controllerSetter is what the app offers to change its controllers at
// run time.
type controllerSetter interface {
	SetControllers(urls []*url.URL) error
}

// reloader re-reads the configuration on SIGHUP and applies what can change
// while fnmgr runs: the controllers and the log level.
type reloader struct {
	args    []string
	getenv  func(string) string
	log     *slog.Logger
	level   *slog.LevelVar
	app     any
	current config.Options
	metric  *prometheus.CounterVec
}

func (r *reloader) reload() {
	next, err := config.Parse("fnmgr serve", r.args, r.getenv, io.Discard)
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
			r.level.Set(next.LogLevel)
			applied = append(applied, name)
		case "controllers":
			s, ok := r.app.(controllerSetter)
			if !ok {
				restart = append(restart, name)
				continue
			}
			if err := s.SetControllers(next.Controllers); err != nil {
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
