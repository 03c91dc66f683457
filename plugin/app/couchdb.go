package app

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-kivik/kivik/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/plugin/config"
)

// condCouchDB is pending while fnmgr waits for CouchDB at start.
const condCouchDB = "couchdb"

// Waiting for CouchDB at start: each try is bounded by couchTryTimeout;
// the pause after a failed try starts at first and doubles up to max.
const couchTryTimeout = 10 * time.Second

var defaultCouchBackoff = backoff{first: 250 * time.Millisecond, max: 5 * time.Second}

// backoff bounds a capped exponential backoff.
type backoff struct{ first, max time.Duration }

// newCouchUnavailable registers the count of tries to reach CouchDB at
// start that failed because it was unavailable.
func newCouchUnavailable(reg prometheus.Registerer) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "fnmgr", Subsystem: "couchdb", Name: "start_unavailable_total",
		Help: "Tries to create fnmgr's databases at start that failed because CouchDB was unavailable (each is retried).",
	})
	reg.MustRegister(c)
	return c
}

// errCouchUnavailable marks a try that failed because CouchDB did not
// answer, or answered that it cannot serve now (5xx, 408, 429): trying
// again may succeed. Every other failure is a configuration error.
var errCouchUnavailable = errors.New("CouchDB unavailable")

// createDatabases makes one try at creating fnmgr's databases dbs (those
// that exist are left alone). It fails with an error wrapping
// errCouchUnavailable when trying again may help, with ctx's error when ctx
// ended, and otherwise with an error that says which setting to fix. No
// error carries CouchDB's credentials: the client never puts them in a URL.
func (a *App) createDatabases(ctx context.Context, client *kivik.Client, dbs []string) error {
	tctx, cancel := context.WithTimeout(ctx, couchTryTimeout)
	defer cancel()
	for _, db := range dbs {
		err := couch.EnsureDB(tctx, client, db)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return fmt.Errorf("create database %s: %w", db, ctx.Err())
		}
		target := config.RedactURL(a.opts.Config.CouchURL)
		flag := fmt.Sprintf("--%s (%s)", config.FlagCouchURL, config.EnvCouchURL)
		err = couch.Classify(err)
		switch status := couch.Status(err); {
		case errors.Is(err, couch.ErrUnavailable), status == 0: // 0: no answer at all
			return fmt.Errorf("%w: %w", errCouchUnavailable, err)
		case errors.Is(err, couch.ErrUnauthorized):
			return fmt.Errorf("CouchDB at %s refuses fnmgr's credentials (HTTP 401): put its user and password in %s: %w",
				target, flag, err)
		case errors.Is(err, couch.ErrForbidden):
			return fmt.Errorf("CouchDB at %s does not let fnmgr's user read or create database %s (HTTP 403): "+
				"give the user of %s that right: %w", target, db, flag, err)
		default:
			return fmt.Errorf("CouchDB at %s refused to create database %s (HTTP %d): check %s and the database prefixes: %w",
				target, db, status, flag, err)
		}
	}
	return nil
}

// waitForDatabases tries createDatabases again, after first failed with
// errCouchUnavailable, until it succeeds, fails for another reason, or ctx
// ends. It logs and counts every failed try once, at warn, and the pause
// after it grows as a.couchBackoff says.
func (a *App) waitForDatabases(ctx context.Context, client *kivik.Client, dbs []string, first error, failed prometheus.Counter) error {
	target := config.RedactURL(a.opts.Config.CouchURL)
	err, wait := first, a.couchBackoff.first
	for try := 1; ; try++ {
		failed.Inc()
		pause := wait/2 + rand.N(wait/2+1) // jittered within [wait/2, wait]
		a.log.Warn("CouchDB unavailable; retrying", "url", target, "try", try, "backoff", pause, "err", err)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		err = a.createDatabases(ctx, client, dbs)
		switch {
		case err == nil:
			a.log.Info("CouchDB available", "url", target, "tries", try+1)
			return nil
		case !errors.Is(err, errCouchUnavailable):
			return err
		}
		wait = min(2*wait, a.couchBackoff.max)
	}
}
