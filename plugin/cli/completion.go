package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/fnmgr/fnmgr/plugin/config"
)

func completionCommand() *Command {
	return &Command{Name: "completion", Args: "bash|zsh", Summary: "print a shell completion script", Local: true,
		Long: "Prints a script that completes fnmgr's commands and flags in bash or zsh.",
		Example: "fnmgr completion bash > /etc/bash_completion.d/fnmgr\n" +
			"source <(fnmgr completion bash)\n" +
			"fnmgr completion zsh > \"${fpath[1]}/_fnmgr\"",
		Flags: noFlags(func(ctx context.Context, s *Session, args []string) error {
			// The tree is rebuilt here so that serve, added by main,
			// is completed too when main passes it.
			root := Root(s.env.extra...)
			switch args[0] {
			case "bash":
				return bashCompletion(s.out, root)
			case "zsh":
				fmt.Fprint(s.out, "#compdef fnmgr\n# zsh completion for fnmgr: put this file on $fpath as _fnmgr.\nautoload -U +X bashcompinit && bashcompinit\n")
				return bashCompletion(s.out, root)
			}
			return fmt.Errorf("%w: completion for %q: bash and zsh are supported", ErrUsage, args[0])
		})}
}

// words lists, for each command path ("" for the root, "versions",
// "versions list"), the words that may follow: subcommands, or flags.
func words(c *Command, path string, out map[string][]string) {
	var subs []string
	if len(c.Sub) > 0 {
		for _, s := range c.Sub {
			subs = append(subs, s.Name)
			words(s, strings.TrimSpace(path+" "+s.Name), out)
		}
		if c.Flags == nil {
			out[path] = subs
			return
		}
	}
	var flags []string
	switch {
	case c.Raw != nil:
		for _, s := range config.Settings() {
			flags = append(flags, "--"+s.Flag)
		}
		flags = append(flags, "--help")
	case c.Flags != nil:
		fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
		addGlobals(fs)
		c.Flags(fs)
		fs.VisitAll(func(f *flag.Flag) {
			if len(f.Name) > 1 {
				flags = append(flags, "--"+f.Name)
			}
		})
		flags = append(flags, "--help")
	}
	out[path] = append(subs, flags...)
}

func bashCompletion(w io.Writer, root *Command) error {
	m := map[string][]string{}
	words(root, "", m)
	paths := make([]string, 0, len(m))
	for p := range m {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b strings.Builder
	b.WriteString(`# bash completion for fnmgr: source <(fnmgr completion bash)
_fnmgr() {
    local cur="${COMP_WORDS[COMP_CWORD]}" path="" w i
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${COMP_WORDS[i]}"
        case "$w" in -*) ;; *) path="${path:+$path }$w" ;; esac
    done
    local opts="" p="$path"
    # The longest command path that starts the line decides; the words
    # after it are arguments.
    while :; do
        case "$p" in
`)
	for _, p := range paths {
		fmt.Fprintf(&b, "            %q) opts=%q; break ;;\n", p, strings.Join(m[p], " "))
	}
	b.WriteString(`        esac
        if [[ "$p" == *" "* ]]; then p="${p% *}"; elif [[ -n "$p" ]]; then p=""; else break; fi
    done
    if [[ "$cur" != -* ]]; then
        local cmds="" o
        for o in $opts; do [[ "$o" == -* ]] || cmds="$cmds $o"; done
        opts="$cmds"
    fi
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _fnmgr fnmgr
`)
	_, err := io.WriteString(w, b.String())
	return err
}
