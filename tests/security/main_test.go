// Package security tries fnmgr as an attacker and as a careless operator
// would, against the whole local stack run in this process
// (tests/stackenv), logging at debug level: namespace isolation on every
// admin route (as the served OpenAPI description lists them) and through
// the gateway, request size limits, and that no credential and no action
// parameter reaches a log line or an error message.
package security

import (
	"os"
	"testing"

	"github.com/fnmgr/fnmgr/tests/stackenv"
)

var env *stackenv.Env

func TestMain(m *testing.M) {
	os.Exit(stackenv.Run(m, stackenv.Options{Debug: true}, &env))
}
