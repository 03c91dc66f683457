package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// groupUsage lists a group's commands.
func (c *Command) groupUsage(w io.Writer, path []string) {
	var b strings.Builder
	name := strings.Join(path, " ")
	if len(path) == 1 {
		fmt.Fprintf(&b, "%s: %s\n\n", c.Name, c.Summary)
	} else {
		fmt.Fprintf(&b, "%s\n\n", c.Summary)
	}
	fmt.Fprintf(&b, "Usage: %s <command> [flags]\n\n", name)
	if c.Long != "" && len(path) == 1 {
		b.WriteString(c.Long + "\n\n")
	}
	b.WriteString("Commands:\n")
	width := 0
	for _, s := range c.Sub {
		width = max(width, len(s.Name))
	}
	for _, s := range c.Sub {
		fmt.Fprintf(&b, "  %-*s   %s\n", width, s.Name, s.Summary)
	}
	if c.Example != "" {
		b.WriteString("\nExamples:\n" + indent(c.Example))
	}
	fmt.Fprintf(&b, "\nRun '%s <command> --help' for a command's flags and an example.\n", name)
	_, _ = io.WriteString(w, b.String())
}

// usage explains one command, its flags read from its flag set fs.
func (c *Command) usage(w io.Writer, path []string, fs *pflag.FlagSet) {
	var b strings.Builder
	line := strings.Join(path, " ")
	if c.Args != "" {
		line += " " + c.Args
	}
	fmt.Fprintf(&b, "Usage: %s [flags]\n\n%s\n", line, c.Summary)
	if c.Long != "" {
		b.WriteString("\n" + c.Long + "\n")
	}
	if len(c.Sub) > 0 {
		b.WriteString("\nCommands:\n")
		for _, s := range c.Sub {
			fmt.Fprintf(&b, "  %-12s %s\n", s.Name, s.Summary)
		}
	}
	own := false
	fs.VisitAll(func(f *pflag.Flag) { own = own || !f.Hidden && !isGlobal(f) })
	if own {
		b.WriteString("\nFlags:\n")
		printFlags(&b, fs, false)
	}
	b.WriteString("\nGlobal flags:\n")
	printFlags(&b, fs, true)
	if c.Example != "" {
		b.WriteString("\nExamples:\n" + indent(c.Example))
	}
	_, _ = io.WriteString(w, b.String())
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

// sortCommands orders commands by name.
func sortCommands(cmds []*Command) {
	sort.SliceStable(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
}
