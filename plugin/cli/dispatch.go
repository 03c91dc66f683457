package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fnmgr/fnmgr/plugin/config"
)

// The command tree runs on cobra (github.com/spf13/cobra, the library wsk
// itself is built on: openwhisk-cli's commands/wsk.go): cobra finds the
// command, suggests one for a misspelled name ("did you mean"), routes
// `fnmgr help CMD` and serves shell completion (`fnmgr __complete`, behind
// the scripts of `fnmgr completion SHELL`).
//
// Flags are parsed by each command itself (cobra's DisableFlagParsing), with
// the standard library's flag package as before, because wsk's command
// line differs from pflag's: --param KEY VALUE takes two arguments, and the
// errors users and scripts read keep their wording. The flags are also
// declared to cobra, for completion only: names, shorthands and usage.

// tree builds the cobra commands of one command line.
type tree struct {
	ctx context.Context
	env Env
	cmd map[*cobra.Command]*Command
	// err is the command's own error: RunE hands cobra nil so that cobra
	// neither prints it nor answers flag.ErrHelp with a second help text.
	err error
}

func (t *tree) execute(root *Command, args []string) error {
	rc := t.build(root)
	rc.SilenceErrors, rc.SilenceUsage = true, true
	rc.CompletionOptions.DisableDefaultCmd = true
	rc.SetHelpFunc(func(c *cobra.Command, _ []string) { t.help(c, t.env.Stdout) })
	rc.SetHelpCommand(&cobra.Command{Use: "help [command]", Short: "explain a command", Hidden: true,
		Run: func(c *cobra.Command, args []string) {
			target, _, err := c.Root().Find(args)
			if err != nil || target == nil {
				target = c.Root()
			}
			t.help(target, t.env.Stdout)
		}})
	rc.SetIn(t.env.Stdin)
	rc.SetOut(t.env.Stdout)
	rc.SetErr(t.env.Stderr)
	if args == nil {
		args = []string{} // nil would make cobra read os.Args
	}
	rc.SetArgs(args)
	err := rc.ExecuteContext(t.ctx)
	if t.err != nil {
		return t.err
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return nil
}

// build makes c's cobra command and those of its subcommands.
func (t *tree) build(c *Command) *cobra.Command {
	cc := &cobra.Command{Use: c.Name, Short: c.Summary, Long: c.Long, Example: c.Example,
		DisableFlagParsing: true, Args: cobra.ArbitraryArgs, SuggestionsMinimumDistance: 2,
		RunE: func(cc *cobra.Command, args []string) error {
			t.err = t.run(cc, args)
			return nil
		}}
	if c.Args != "" {
		cc.Use += " " + c.Args
	}
	t.cmd[cc] = c
	declareFlags(c, cc.Flags())
	if c.Name == "completion" {
		cc.ValidArgs = shells
	}
	for _, s := range c.Sub {
		cc.AddCommand(t.build(s))
	}
	return cc
}

// declareFlags tells cobra c's flags, for completion.
func declareFlags(c *Command, pf *pflag.FlagSet) {
	switch {
	case c.Raw != nil:
		for _, s := range config.Settings() {
			pf.String(s.Flag, "", s.Usage)
		}
	case c.Flags != nil:
		fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
		addGlobals(fs)
		c.Flags(fs)
		fs.VisitAll(func(f *flag.Flag) {
			if len(f.Name) == 1 {
				return
			}
			short := ""
			for s, long := range shorthands {
				if long == f.Name && fs.Lookup(s) != nil {
					short = s
				}
			}
			_, usage := flag.UnquoteUsage(f)
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				pf.BoolP(f.Name, short, false, usage)
			} else {
				pf.StringP(f.Name, short, "", usage)
			}
		})
	}
}

// path is the command's words, "fnmgr" first.
func path(cc *cobra.Command) []string { return strings.Fields(cc.CommandPath()) }

// help writes the help of cc.
func (t *tree) help(cc *cobra.Command, w io.Writer) {
	c := t.cmd[cc]
	switch {
	case c == nil:
		_ = cc.Usage()
	case c.Raw != nil:
		e := t.env
		e.Stdout, e.Stderr = w, w
		_ = c.Raw(t.ctx, []string{"--help"}, e)
	case c.Flags == nil:
		c.groupUsage(w, path(cc))
	default:
		fs := flag.NewFlagSet(cc.CommandPath(), flag.ContinueOnError)
		addGlobals(fs)
		c.Flags(fs)
		c.usage(w, path(cc), fs)
	}
}

// run runs the command cobra found with the rest of the line.
func (t *tree) run(cc *cobra.Command, args []string) error {
	c, e, p := t.cmd[cc], t.env, path(cc)
	if c.Raw != nil {
		return c.Raw(t.ctx, args, e)
	}
	if c.Flags == nil {
		if len(args) == 0 {
			c.groupUsage(e.Stderr, p)
			return fmt.Errorf("%w: %s needs a command", ErrUsage, strings.Join(p, " "))
		}
		switch args[0] {
		case "-h", "-help", "--help", "help":
			c.groupUsage(e.Stdout, p)
			return nil
		case "-version", "--version":
			if !cc.HasParent() {
				if v, _, err := cc.Find([]string{"version"}); err == nil && v != cc {
					return t.run(v, args[1:])
				}
			}
		}
		c.groupUsage(e.Stderr, p)
		msg := fmt.Sprintf("unknown command %q for %q", args[0], strings.Join(p, " "))
		if s := cc.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
		}
		return fmt.Errorf("%w: %s", ErrUsage, msg)
	}
	fs := flag.NewFlagSet(cc.CommandPath(), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g := addGlobals(fs)
	action := c.Flags(fs)
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		c.usage(e.Stdout, p, fs)
		return err
	}
	if err != nil {
		c.usage(e.Stderr, p, fs)
		return fmt.Errorf("%w: %s: %v", ErrUsage, strings.Join(p, " "), err)
	}
	s := &Session{env: e, g: g, out: e.Stdout, path: p, cobra: cc}
	if !c.Local {
		if err := s.connect(); err != nil {
			return err
		}
	}
	if !strings.Contains(c.Args, "[") {
		if err := need(s, pos, strings.Fields(c.Args)...); err != nil {
			return err
		}
	}
	return action(t.ctx, s, pos)
}
