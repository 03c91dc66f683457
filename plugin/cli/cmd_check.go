package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/fnmgr/fnmgr/plugin/config"
	"github.com/fnmgr/fnmgr/plugin/preflight"
)

const checkLong = `Validates fnmgr's configuration (the same flags, FNMGR_* variables and --config
file as serve) and checks every dependency it needs: CouchDB answers and holds
OpenWhisk's whisks, subjects and activations databases; Kafka answers and has the
health, events and cacheInvalidation topics and invoker topics; every controller
answers GET /. Each failure names what failed and how to fix it; the exit status
is 1 when anything failed. It changes nothing.`

const checkExample = "fnmgr check --config /etc/fnmgr/fnmgr.json\nFNMGR_COUCHDB_URL=http://whisk_admin:PASSWORD@couchdb:5984 fnmgr check --json"

func checkCommand() *Command {
	return &Command{Name: "check", Summary: "validate the configuration and reach every dependency",
		Long: checkLong, Local: true,
		Example: checkExample,
		Raw: func(ctx context.Context, args []string, e Env) error {
			jsonOut := false
			rest := args[:0:0]
			for _, a := range args {
				if a == "--json" || a == "-json" {
					jsonOut = true
					continue
				}
				rest = append(rest, a)
			}
			cfg, err := config.Parse("fnmgr check", rest, e.getenv, e.Stdout)
			if isHelp(err) {
				fmt.Fprintf(e.Stdout, "  -json\n    \tprint the results as JSON\n\n%s\n\nExamples:\n%s", checkLong, indent(checkExample))
			}
			if err != nil {
				return checkConfigError(err)
			}
			rs := preflight.Run(ctx, preflight.Options{Config: cfg})
			if jsonOut {
				b, _ := json.MarshalIndent(rs, "", "  ")
				fmt.Fprintf(e.Stdout, "%s\n", b)
			} else if err := preflight.Print(e.Stdout, rs); err != nil {
				return err
			}
			if n := preflight.Failed(rs); n > 0 {
				return fmt.Errorf("check: %d of %d checks failed (see the fixes above)", n, len(rs))
			}
			if !jsonOut {
				if w := preflight.Warnings(rs); w > 0 {
					fmt.Fprintf(e.Stdout, "ok: all %d checks passed, %d with a warning (see above)\n", len(rs), w)
				} else {
					fmt.Fprintf(e.Stdout, "ok: all %d checks passed\n", len(rs))
				}
			}
			return nil
		}}
}

// checkConfigError keeps -h as help and reports an invalid configuration
// as what it is.
func checkConfigError(err error) error {
	if isHelp(err) {
		return err
	}
	return fmt.Errorf("invalid configuration: %w", err)
}
