// Package security tries fnmgr as an attacker and as a careless operator
// would, against the whole local stack run in this process
// (tests/stackenv), logging at debug level: namespace isolation on every
// admin route (as the served OpenAPI description lists them) and through
// the gateway, request size limits, and that no credential and no action
// parameter reaches a log line or an error message.
package security

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/fnmgr/fnmgr/plugin/config"
	"github.com/fnmgr/fnmgr/tests/stackenv"
)

// keyCacheTTL is fnmgr's --key-cache-ttl in these tests: short, so that
// revoking a key is seen in seconds (the default is 25 s).
const keyCacheTTL = 2 * time.Second

var env *stackenv.Env

func TestMain(m *testing.M) {
	// fnmgr inherits this process's environment.
	if err := os.Setenv(config.EnvKeyCacheTTL, keyCacheTTL.String()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(stackenv.Run(m, stackenv.Options{Debug: true}, &env))
}
