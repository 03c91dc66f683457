// Command fnmgr is the Function Manager sidecar for Apache OpenWhisk and
// its command line:
//
//	fnmgr serve          run the daemon (admin API and gateway)
//	fnmgr check          validate the configuration and reach every dependency
//	fnmgr functions list the CLI, in the style of wsk (see fnmgr --help)
//	fnmgr version        print the version
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fnmgr/fnmgr/plugin/cli"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	os.Exit(run())
}

// run is main without os.Exit: one cancellation root for the whole process,
// and SIGHUP for serve's reload.
func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	e := cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Version: version}
	return cli.Main(ctx, os.Args[1:], e, serveCommand(hup))
}
