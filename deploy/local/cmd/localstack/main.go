// Command localstack runs fnmgr's local stack in the foreground (`make run`):
// CouchDB, Kafka, the OpenWhisk-compatible controller and invoker, and fnmgr,
// on 127.0.0.1. It writes LOCAL_DIR/endpoints.json when everything is ready
// and stops everything on Ctrl-C or SIGTERM; a second one cuts the stop short
// but still kills every action and removes its cgroups. See
// `localstack --help`.
package main

import (
	"os"

	"github.com/fnmgr/fnmgr/deploy/local/stack"
)

func main() {
	os.Exit(stack.Main("localstack", os.Args[1:], os.Getenv, os.Stderr))
}
