package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/fnmgr/fnmgr/plugin/config"
)

// Readiness conditions of the replica's stages.
const (
	condRoutes = "routes"
	condLead   = "lead"
)

// stageDatabases creates fnmgr's databases if CouchDB answers; when it
// does not (yet), the error returned wraps errCouchUnavailable and the
// stages that need CouchDB wait for it in the background (afterCouchDB).
// Any other failure is a configuration error and stops Start.
func (a *App) stageDatabases(ctx context.Context) (couchErr error, err error) {
	couchErr = a.createDatabases(ctx, a.client, a.databases())
	if couchErr != nil && !errors.Is(couchErr, errCouchUnavailable) {
		return nil, fmt.Errorf("app: databases: %w", couchErr)
	}
	return couchErr, nil
}

// databases are fnmgr's own databases.
func (a *App) databases() []string {
	cfg := a.opts.Config
	dbs := []string{cfg.RegistryDB(), cfg.OptimizationsDB()}
	if cfg.Storage == config.StorageCouch {
		dbs = append(dbs, cfg.ArtifactsDB())
	}
	return dbs
}

// afterCouchDB runs next now when CouchDB answered at start, and otherwise
// once the databases could be created.
func (a *App) afterCouchDB(couchErr error, next func()) {
	if couchErr == nil {
		next()
		return
	}
	a.ready.set(condCouchDB, "waiting for CouchDB")
	a.bg.run("databases", func(ctx context.Context) error {
		if err := a.waitForDatabases(ctx, a.client, a.databases(), couchErr, a.couchFailed); err != nil {
			return err
		}
		a.ready.set(condCouchDB, "")
		next()
		return nil
	})
}

// stageServe starts the gateway's health checks and both servers; the
// admin server comes last, so that once /healthz answers the gateway
// listens too.
func (a *App) stageServe(ctx context.Context) error {
	cfg := a.opts.Config
	if err := a.gw.Start(ctx); err != nil {
		return fmt.Errorf("app: %w", err)
	}
	a.lc.onStop("gateway health checks", a.gw.Stop)
	var err error
	if a.gatewayAddr, err = a.serve("gateway", cfg.GatewayAddr, a.gw); err != nil {
		return err
	}
	if a.adminAddr, err = a.serve("admin", cfg.AdminAddr, a.api); err != nil {
		return err
	}
	if cfg.AdvertiseAdminURL == nil {
		a.elector.SetAdmin(cfg.AdminURL(a.adminAddr))
	}
	return nil
}

// stageFollow follows the registry's change feed into the gateway's
// routing table, on every replica: the gateway's refusals and alias
// routing follow the leader's writes within a heartbeat.
func (a *App) stageFollow() {
	a.ready.watch(condRoutes, func() string { return pending(a.d.regFeed.CaughtUp(), "loading the routing table") })
	a.bg.run("registry change feed", a.d.regFeed.Run)
}

// stageElect campaigns for the leader's lease; the winner runs the
// leader's stages (lead.go). Until the first read of the lease the
// replica is not ready; a follower is ready once its routing table is.
func (a *App) stageElect() {
	a.ready.watch(condLead, func() string {
		switch {
		case !a.elector.Known():
			return "reading the leader's lease"
		case a.elector.Leading() && !a.leading.Load():
			return "starting the leader's stages"
		}
		return ""
	})
	a.bg.run("leader election", a.elector.Run)
	a.bg.run("leader stages", func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return nil
		case <-a.elector.Elected():
		}
		return a.lead(ctx)
	})
}

// serve listens on addr and serves h until stopped; it returns the address
// bound (the real port when addr asked for port 0).
func (a *App) serve(name, addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("app: %s server: listen on %s: %w", name, addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.With("server", name).Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.report(fmt.Errorf("app: %s server: %w", name, err))
		}
	}()
	a.lc.onStop(name+" server", func(ctx context.Context) error {
		err := srv.Shutdown(ctx)
		<-done
		return err
	})
	return ln.Addr().String(), nil
}

func pending(ok bool, why string) string {
	if ok {
		return ""
	}
	return why
}
