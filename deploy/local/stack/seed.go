package stack

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/fnmgr/fnmgr/deploy/local/seed"
)

// seedDatabases creates OpenWhisk's databases and design documents and the
// guest subject, and returns the guest key ("uuid:key").
func seedDatabases(ctx context.Context, couchURL string, guest *seed.Throttles, log *slog.Logger) (string, error) {
	if err := seed.Run(ctx, seed.Options{CouchURL: couchURL, DBPrefix: DBPrefix, Logger: log, GuestThrottles: guest}); err != nil {
		return "", fmt.Errorf("stack: seed: %w", err)
	}
	return seed.GuestAuth, nil
}
