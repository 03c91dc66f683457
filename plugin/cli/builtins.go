package cli

import (
	"context"
	"fmt"
	"io"
)

// builtins are the CLI's own commands (serve comes from the daemon).
func builtins() []*Command {
	return []*Command{
		functionsCommand(), revisionsCommand(), versionsCommand(), publishCommand(), aliasesCommand(),
		rollbackCommand(), blockCommand(), unblockCommand(), updateCommand(), retireCommand(),
		historyCommand(), configCommand(), optimizeCommand(), checkCommand(), versionCommand(), completionCommand(),
	}
}

func versionCommand() *Command {
	return &Command{Name: "version", Summary: "print fnmgr's version", Local: true, Example: "fnmgr version",
		Flags: noFlags(func(ctx context.Context, s *Session, args []string) error {
			return s.emit(map[string]string{"version": s.env.Version}, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, "fnmgr", s.env.Version)
				return err
			})
		})}
}
