package cli

import (
	"errors"
	"flag"

	"github.com/spf13/pflag"

	"github.com/fnmgr/fnmgr/plugin/config"
)

// Raw commands (serve, check) hand their arguments to config.Parse, which
// parses the daemon's settings from flags, FNMGR_* variables and a JSON
// --config file in one pass, with the standard library's flag package: the
// same settings and parser serve uses and its SIGHUP reload reads again. So
// the standard library's flag.ErrHelp, which config.Parse returns for -h,
// is how a raw command says it printed its help; the rest of the CLI is
// parsed by pflag.

// isHelp tells whether err is a raw command's answer to -h.
func isHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }

// declareRawFlags tells cobra the flags of a raw command, the daemon's
// settings, for completion only: the command's cobra flag parsing is off,
// and cobra still completes the names of the flags declared to it (as Helm
// does for its plugins).
func declareRawFlags(fs *pflag.FlagSet) {
	for _, s := range config.Settings() {
		fs.String(s.Flag, "", s.Usage)
	}
}
