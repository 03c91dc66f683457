package cli

import (
	"context"
	"fmt"
	"strings"
)

// shells are those `fnmgr completion` writes a script for.
var shells = []string{"bash", "zsh", "fish", "powershell"}

func completionCommand() *Command {
	return &Command{Name: "completion", Args: "SHELL", Summary: "print a shell completion script", Local: true,
		Long: "Prints a script that completes fnmgr's commands and flags in SHELL: " + strings.Join(shells, ", ") + ".\n" +
			"The script asks fnmgr itself what to complete (the hidden `fnmgr __complete`),\n" +
			"so it stays right as fnmgr changes.",
		Example: "fnmgr completion bash > /etc/bash_completion.d/fnmgr\n" +
			"source <(fnmgr completion bash)\n" +
			"fnmgr completion zsh > \"${fpath[1]}/_fnmgr\"\n" +
			"fnmgr completion fish > ~/.config/fish/completions/fnmgr.fish",
		Flags: noFlags(func(ctx context.Context, s *Session, args []string) error {
			if s.cobra == nil {
				return fmt.Errorf("cli: completion needs the command tree")
			}
			root := s.cobra.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(s.out, true)
			case "zsh":
				return root.GenZshCompletion(s.out)
			case "fish":
				return root.GenFishCompletion(s.out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(s.out)
			}
			return fmt.Errorf("%w: completion for %q: %s are supported", ErrUsage, args[0], strings.Join(shells, ", "))
		})}
}
