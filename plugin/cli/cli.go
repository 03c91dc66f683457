// Package cli is the fnmgr command line in the style of OpenWhisk's wsk:
// nouns and verbs (fnmgr versions list hello), flags anywhere on the line,
// aligned tables or --json, and the credentials of wsk's own properties
// file (~/.wskprops, or $WSK_CONFIG_FILE) unless others are given.
//
// Commands touch nothing of the process but what Env gives them (streams,
// environment, home directory), so tests run them in-process. Nothing here
// exits the process: Main returns the exit status.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit statuses of Main.
const (
	ExitOK    = 0
	ExitError = 1 // the command failed (an API error, an unreachable service)
	ExitUsage = 2 // the command line could not be understood
)

// ErrUsage marks a command line that could not be understood.
var ErrUsage = errors.New("usage error")

// Env is what a command may use of the process.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv reads the environment (os.Getenv when nil).
	Getenv func(string) string
	// Version is fnmgr's version, for `fnmgr version`.
	Version string
	// HTTPClient sends the admin API's requests; a fresh one when nil.
	HTTPClient *http.Client
	// IsTerminal tells whether w is a terminal (for the progress bar);
	// by default, a character device.
	IsTerminal func(w io.Writer) bool
}

func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return os.Getenv(k)
	}
	return e.Getenv(k)
}

func (e Env) isTerminal(w io.Writer) bool {
	if e.IsTerminal != nil {
		return e.IsTerminal(w)
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Action runs a command once its flags are parsed; args are the positional
// arguments.
type Action func(ctx context.Context, s *Session, args []string) error

// Command is one command, or a group of subcommands (Sub).
type Command struct {
	Name string
	// Args are the positional arguments as usage shows them ("NAME
	// VERSION"); unless some are optional ("NAME [FILE]"), run checks
	// their count before the action.
	Args    string
	Summary string // one line, for the command list
	Long    string // what the command does, for its --help
	Example string // one or more example lines, for its --help
	// Sub are the subcommands. A command with Flags and Sub runs itself
	// unless its first argument names one of them.
	Sub []*Command
	// Flags declares the command's own flags on fs, its flag set (which
	// holds the global flags too), and returns its action.
	Flags func(fs *pflag.FlagSet) Action
	// Local commands need no admin API (no credentials are looked up).
	Local bool
	// Raw commands parse their own arguments (serve and check take the
	// daemon's configuration flags); they get everything after their name.
	Raw func(ctx context.Context, args []string, e Env) error
}

// Main runs the command line args (without the program name) and returns
// the exit status, having printed any error as "error: <message>" on
// Stderr. extra commands (the daemon's serve) join the built-in ones.
func Main(ctx context.Context, args []string, e Env, extra ...*Command) int {
	err := Run(ctx, args, e, extra...)
	switch {
	case err == nil, isHelp(err):
		return ExitOK
	case errors.Is(err, ErrUsage):
		fmt.Fprintln(e.Stderr, "error:", strings.TrimPrefix(err.Error(), ErrUsage.Error()+": "))
		return ExitUsage
	default:
		fmt.Fprintln(e.Stderr, "error:", message(err))
		return ExitError
	}
}

// Run runs the command line args and returns its error.
func Run(ctx context.Context, args []string, e Env, extra ...*Command) error {
	t := &tree{ctx: ctx, env: e, nodes: map[*cobra.Command]*node{}}
	return t.execute(Root(extra...), args)
}

// Root is the command tree: the built-in commands and extra ones.
func Root(extra ...*Command) *Command {
	cmds := builtins()
	cmds = append(cmds, extra...)
	sortCommands(cmds)
	return &Command{Name: "fnmgr", Summary: "Function Manager for Apache OpenWhisk", Long: rootLong, Example: rootExample, Sub: cmds}
}

const rootLong = `fnmgr manages OpenWhisk actions as functions: it records every revision,
publishes immutable versions (name@N), routes aliases (name@alias), and
blocks, updates, retires and tunes functions, enforcing their state on
every path into OpenWhisk.

The CLI reads wsk's own properties file (~/.wskprops, or $WSK_CONFIG_FILE)
for your key (AUTH) and namespace (NAMESPACE), and the admin API's URL from
--admin, $FNMGR_ADMIN or the file's FNMGR_ADMIN key (default
http://127.0.0.1:3235). An operator uses --admin-token or
$FNMGR_ADMIN_TOKEN instead of a key.`

const rootExample = `fnmgr functions list
fnmgr publish hello --description "first release"
fnmgr aliases set hello prod --version 1
fnmgr block hello --reason "leaks memory"`

// noFlags is Flags for a command without flags of its own.
func noFlags(a Action) func(*pflag.FlagSet) Action {
	return func(*pflag.FlagSet) Action { return a }
}

// message is what the user reads of err: an API error as the API said it,
// others without the package prefixes of the layers they passed.
func message(err error) string {
	s := err.Error()
	for _, p := range []string{"client: ", "cli: "} {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}

// need checks the positional arguments' count.
func need(s *Session, args []string, names ...string) error {
	if len(args) < len(names) {
		return fmt.Errorf("%w: %s needs %s (see --help)", ErrUsage, strings.Join(s.path, " "), strings.Join(names[len(args):], " and "))
	}
	if len(args) > len(names) {
		return fmt.Errorf("%w: %s: unexpected argument %q", ErrUsage, strings.Join(s.path, " "), args[len(names)])
	}
	return nil
}
