package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The command tree runs on cobra and its flag library pflag
// (github.com/spf13/cobra, github.com/spf13/pflag), as wsk does
// (openwhisk-cli's commands/wsk.go and commands/flags.go): cobra finds the
// command and parses its flags (anywhere among the arguments, --flag=value,
// -u KEY, "--" ending them), suggests a command for a misspelled name
// ("did you mean"), routes `fnmgr help CMD` and serves shell completion
// (`fnmgr __complete`, behind the scripts of `fnmgr completion SHELL`).
//
// Each command declares its flags once, on its own pflag set, with the
// global ones (addGlobals); its help (help.go) and completion read that
// set. Two things come before cobra: --param KEY VALUE takes two arguments,
// which pflag cannot say (see joinPairs), and `fnmgr --version` is
// `fnmgr version`. Raw commands (serve, check) parse their own arguments.

// node is what the tree knows of one cobra command.
type node struct {
	c *Command
	// g and action are a command's globals and action, bound to its flag
	// set; nil for a group or a raw command.
	g      *globals
	action Action
}

// tree builds the cobra commands of one command line.
type tree struct {
	ctx   context.Context
	env   Env
	nodes map[*cobra.Command]*node
	// err is the command's own error: RunE and the flag error hand cobra
	// nothing it would print or wrap.
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
	rc.SetFlagErrorFunc(t.flagError)
	rc.SetIn(t.env.Stdin)
	rc.SetOut(t.env.Stdout)
	rc.SetErr(t.env.Stderr)
	rc.SetArgs(prepare(rc, args))
	err := rc.ExecuteContext(t.ctx)
	if t.err != nil {
		return t.err
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return nil
}

// prepare readies the command line for cobra: `--version` alone is the
// version command, and the KEY VALUE pairs of the command's --param
// flags are joined (joinPairs), also on a line being completed.
func prepare(rc *cobra.Command, args []string) []string {
	if len(args) == 0 {
		return []string{} // nil would make cobra read os.Args
	}
	if args[0] == "--version" || args[0] == "-version" {
		return append([]string{"version"}, args[1:]...)
	}
	join := func(line []string) []string {
		c, _, err := rc.Find(line)
		if err != nil || c.DisableFlagParsing {
			return line
		}
		return joinPairs(c.Flags(), line)
	}
	if args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd {
		// The last word is the one being completed: left as typed.
		n := len(args) - 1
		return append(append([]string{args[0]}, join(args[1:n])...), args[n:]...)
	}
	return join(args)
}

// build makes c's cobra command and those of its subcommands.
func (t *tree) build(c *Command) *cobra.Command {
	cc := &cobra.Command{Use: c.Name, Short: c.Summary, Long: c.Long, Example: c.Example,
		Args: cobra.ArbitraryArgs, SuggestionsMinimumDistance: 2,
		RunE: func(cc *cobra.Command, args []string) error {
			t.err = t.run(cc, args)
			return nil
		}}
	if c.Args != "" {
		cc.Use += " " + c.Args
	}
	n := &node{c: c}
	t.nodes[cc] = n
	fs := cc.Flags()
	switch {
	case c.Raw != nil:
		// Raw commands hand their arguments, flags and all, to their
		// own parser; cobra knows their flags only to complete them.
		cc.DisableFlagParsing = true
		declareRawFlags(fs)
	case c.Flags != nil:
		n.g = addGlobals(fs)
		n.action = c.Flags(fs)
		unquoteUsages(fs)
	}
	if !cc.DisableFlagParsing {
		// cobra's own -h/--help, declared here to keep it out of the
		// flags that help lists and completion offers.
		fs.BoolP("help", "h", false, "help for "+c.Name)
		_ = fs.MarkHidden("help")
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if vals, ok := f.Annotations[valuesAnnotation]; ok {
			_ = cc.RegisterFlagCompletionFunc(f.Name, completeFrom(vals))
		}
	})
	if c.Name == "completion" {
		cc.ValidArgs = shells
	}
	for _, s := range c.Sub {
		cc.AddCommand(t.build(s))
	}
	return cc
}

// completeFrom completes a flag's value from vals.
func completeFrom(vals []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []cobra.Completion
		for _, v := range vals {
			if strings.HasPrefix(v, toComplete) {
				out = append(out, v)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// path is the command's words, "fnmgr" first.
func path(cc *cobra.Command) []string { return strings.Fields(cc.CommandPath()) }

// help writes the help of cc.
func (t *tree) help(cc *cobra.Command, w io.Writer) {
	n := t.nodes[cc]
	switch {
	case n == nil:
		_ = cc.Usage()
	case n.c.Raw != nil:
		e := t.env
		e.Stdout, e.Stderr = w, w
		_ = n.c.Raw(t.ctx, []string{"--help"}, e)
	case n.c.Flags == nil:
		n.c.groupUsage(w, path(cc))
	default:
		n.c.usage(w, path(cc), cc.Flags())
	}
}

// flagError reports a command line pflag could not parse, under the
// command's help on stderr, as a usage error.
func (t *tree) flagError(cc *cobra.Command, err error) error {
	if n := t.nodes[cc]; n != nil && n.c.Flags == nil {
		n.c.groupUsage(t.env.Stderr, path(cc))
	} else {
		t.help(cc, t.env.Stderr)
	}
	t.err = fmt.Errorf("%w: %s: %v", ErrUsage, cc.CommandPath(), err)
	return t.err
}

// run runs the command cobra found with its positional arguments (all of
// them for a raw command).
func (t *tree) run(cc *cobra.Command, args []string) error {
	n, e, p := t.nodes[cc], t.env, path(cc)
	c := n.c
	if c.Raw != nil {
		return c.Raw(t.ctx, args, e)
	}
	if c.Flags == nil {
		if len(args) == 0 {
			c.groupUsage(e.Stderr, p)
			return fmt.Errorf("%w: %s needs a command", ErrUsage, strings.Join(p, " "))
		}
		if args[0] == "help" {
			c.groupUsage(e.Stdout, p)
			return nil
		}
		c.groupUsage(e.Stderr, p)
		msg := fmt.Sprintf("unknown command %q for %q", args[0], strings.Join(p, " "))
		if s := cc.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
		}
		return fmt.Errorf("%w: %s", ErrUsage, msg)
	}
	s := &Session{env: e, g: n.g, out: e.Stdout, path: p, cobra: cc}
	if !c.Local {
		if err := s.connect(); err != nil {
			return err
		}
	}
	if !strings.Contains(c.Args, "[") {
		if err := need(s, args, strings.Fields(c.Args)...); err != nil {
			return err
		}
	}
	return n.action(t.ctx, s, args)
}
