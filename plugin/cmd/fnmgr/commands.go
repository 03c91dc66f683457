package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// env is what a command may touch of the process: its output streams and
// environment. Commands never read os.* directly, so tests can run them.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// command is one subcommand. run gets the arguments after the command name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, e env) error
}

// commands lists the subcommands in the order --help shows them. New CLI
// commands slot in here.
var commands = []command{
	{name: "serve", summary: "run the daemon: admin API and gateway", run: serve},
	{name: "version", summary: "print the version", run: printVersion},
}

// errUsage marks a command line that could not be understood (exit 2).
var errUsage = errors.New("usage error")

func dispatch(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		usage(e.stderr)
		return fmt.Errorf("%w: no command given", errUsage)
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		usage(e.stdout)
		return nil
	case "-version", "--version":
		name = "version"
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(ctx, args[1:], e)
		}
	}
	usage(e.stderr)
	return fmt.Errorf("%w: unknown command %q", errUsage, name)
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("fnmgr: Function Manager for Apache OpenWhisk\n\nUsage: fnmgr <command> [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'fnmgr <command> --help' for a command's flags.\n")
	_, _ = io.WriteString(w, b.String())
}

func printVersion(_ context.Context, args []string, e env) error {
	fs := flag.NewFlagSet("fnmgr version", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	_, err := fmt.Fprintln(e.stdout, "fnmgr", version)
	return err
}
