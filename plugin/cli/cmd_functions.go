package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/fnmgr/fnmgr/plugin/api"
	"github.com/fnmgr/fnmgr/plugin/client"
)

func functionsCommand() *Command {
	return &Command{Name: "functions", Summary: "list functions and show one", Sub: []*Command{
		{Name: "list", Summary: "list the namespace's functions with their state",
			Long:    "Lists the functions fnmgr knows in the namespace: every action it has seen, with its\nlifecycle state, head revision, published versions and aliases.",
			Example: "fnmgr functions list\nfnmgr functions list --state BLOCKED --json",
			Flags: func(fs *pflag.FlagSet) Action {
				state := fs.String("state", "", "only functions in `STATE`: LATEST, PUBLISHED, BLOCKED, UPDATING or RETIRED")
				completeValues(fs, "state", "LATEST", "PUBLISHED", "BLOCKED", "UPDATING", "RETIRED")
				limit := fs.Int("limit", 0, "at most `N` functions (the server's default is 30, its maximum 200)")
				skip := fs.Int("skip", 0, "skip the first `N` functions")
				return func(ctx context.Context, s *Session, args []string) error {
					fns, err := s.client.Functions(ctx, client.ListOptions{State: strings.ToUpper(*state), Limit: *limit, Skip: *skip})
					if err != nil {
						return err
					}
					return s.emit(fns, func(w io.Writer) error { return functionTable(w, fns) })
				}
			}},
		{Name: "get", Args: "NAME", Summary: "show a function: state, head, versions, aliases, settings",
			Long:    "Shows function NAME (an action name, or package/name): its state, its head revision,\nits published versions, its aliases and their routing, and its run-time settings.",
			Example: "fnmgr functions get hello\nfnmgr functions get demo/hello --json",
			Flags: noFlags(func(ctx context.Context, s *Session, args []string) error {
				f, err := s.client.Function(ctx, args[0])
				if err != nil {
					return err
				}
				return s.emit(f, func(w io.Writer) error { return functionDetail(w, f) })
			})},
	}}
}

func functionTable(w io.Writer, fns []client.Function) error {
	rows := make([][]string, 0, len(fns))
	for _, f := range fns {
		rows = append(rows, []string{"/" + f.Namespace + "/" + f.Name, string(f.State), itoa(f.Head.Revision),
			versionList(f), aliasList(f), when(f.Head.Updated)})
	}
	return table(w, []string{"Function", "State", "Revision", "Versions", "Aliases", "Updated"}, rows)
}

func versionList(f client.Function) string {
	vs := make([]string, 0, len(f.Versions))
	for _, v := range f.Versions {
		vs = append(vs, itoa(v.Version))
	}
	return dash(strings.Join(vs, ","))
}

func aliasList(f client.Function) string {
	names := make([]string, 0, len(f.Aliases))
	for n := range f.Aliases {
		names = append(names, n)
	}
	sort.Strings(names)
	return dash(strings.Join(names, ","))
}

// routing formats an alias's routes: "1" or "1=90,2=10".
func routing(rs []client.Route) string {
	if len(rs) == 1 && rs[0].Weight == 100 {
		return itoa(rs[0].Version)
	}
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%d=%d", r.Version, r.Weight))
	}
	return strings.Join(parts, ",")
}

func functionDetail(w io.Writer, f client.Function) error {
	kv := [][2]string{
		{"function", "/" + f.Namespace + "/" + f.Name},
		{"state", string(f.State)},
		{"head", fmt.Sprintf("revision %d, %s, %s", f.Head.Revision, shortDigest(f.Head.Digest), when(f.Head.Updated))},
		{"limits", fmt.Sprintf("memory %d MB, timeout %d ms, logs %d MB, concurrency %d", f.Limits.Memory, f.Limits.Timeout, f.Limits.Logs, f.Limits.Concurrency)},
		{"config", configLine(f.Config)},
	}
	if f.Reason != "" {
		kv = append(kv, [2]string{"reason", f.Reason})
	}
	if f.PurgeAt != nil {
		kv = append(kv, [2]string{"purge at", when(*f.PurgeAt)})
	}
	if err := fields(w, kv); err != nil {
		return err
	}
	if len(f.Versions) > 0 {
		fmt.Fprintln(w, "\nversions")
		rows := [][]string{}
		for _, v := range f.Versions {
			rows = append(rows, []string{itoa(v.Version), shortDigest(v.Digest), when(v.Created), dash(v.Description)})
		}
		if err := table(w, []string{"Version", "Digest", "Created", "Description"}, rows); err != nil {
			return err
		}
	}
	if len(f.Aliases) > 0 {
		fmt.Fprintln(w, "\naliases")
		if err := aliasTable(w, f.Aliases); err != nil {
			return err
		}
	}
	return nil
}

func aliasTable(w io.Writer, aliases map[string]api.Alias) error {
	names := make([]string, 0, len(aliases))
	for n := range aliases {
		names = append(names, n)
	}
	sort.Strings(names)
	rows := [][]string{}
	for _, n := range names {
		rows = append(rows, []string{n, routing(aliases[n].Routing), when(aliases[n].Updated)})
	}
	return table(w, []string{"Alias", "Routing", "Updated"}, rows)
}

func configLine(c client.Config) string {
	var parts []string
	if c.BaseImage != "" {
		parts = append(parts, "base image "+c.BaseImage)
	}
	if c.MemorySize != 0 {
		parts = append(parts, fmt.Sprintf("memory %d MB", c.MemorySize))
	}
	if c.GPUNum != nil {
		parts = append(parts, fmt.Sprintf("%d GPU", *c.GPUNum))
	}
	if c.GPUMemorySize != nil {
		parts = append(parts, fmt.Sprintf("GPU memory %d MB", *c.GPUMemorySize))
	}
	if c.GPUPercentage != nil {
		parts = append(parts, fmt.Sprintf("GPU %d%%", *c.GPUPercentage))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func revisionsCommand() *Command {
	return &Command{Name: "revisions", Summary: "list a function's observed revisions", Sub: []*Command{
		{Name: "list", Args: "NAME", Summary: "list every observed change of a function, newest first",
			Long:    "Lists the revisions fnmgr recorded of function NAME: one per change of the action it\nobserved (through OpenWhisk or through fnmgr), newest first.",
			Example: "fnmgr revisions list hello",
			Flags: noFlags(func(ctx context.Context, s *Session, args []string) error {
				rs, err := s.client.Revisions(ctx, args[0])
				if err != nil {
					return err
				}
				return s.emit(rs, func(w io.Writer) error {
					rows := [][]string{}
					for _, r := range rs {
						rows = append(rows, []string{itoa(r.Revision), shortDigest(r.Digest), dash(r.Snapshot.Exec.Kind),
							itoa(r.Snapshot.Limits.Memory) + " MB", dash(r.OWVersion), when(r.Observed)})
					}
					return table(w, []string{"Revision", "Digest", "Kind", "Memory", "OpenWhisk version", "Observed"}, rows)
				})
			})},
	}}
}

func historyCommand() *Command {
	return &Command{Name: "history", Args: "NAME", Summary: "show a function's history",
		Long: "Shows every operation that changed function NAME, oldest first: when, what (op),\n" +
			"the states it passed through (an update's UPDATING with how long it lasted), who,\n" +
			"the outcome and how long it took, why, and the head revision after it.\n" +
			"--json keeps every field (from, to, started, durationMs, error, version, alias, routing).",
		Example: "fnmgr history hello",
		Flags: noFlags(func(ctx context.Context, s *Session, args []string) error {
			hs, err := s.client.History(ctx, args[0])
			if err != nil {
				return err
			}
			return s.emit(hs, func(w io.Writer) error {
				rows := [][]string{}
				for _, h := range hs {
					outcome := dash(h.Outcome)
					if h.Error != "" {
						outcome += ": " + h.Error
					}
					rows = append(rows, []string{when(h.At), dash(h.Op), statesPassed(h), dash(h.By), outcome,
						millis(h.DurationMs), dash(h.Reason), itoa(h.Revision)})
				}
				return table(w, []string{"At", "Op", "States", "By", "Outcome", "Took", "Reason", "Revision"}, rows)
			})
		})}
}

// statesPassed reads "LATEST → UPDATING (2.1s) → LATEST"; entries written
// before fnmgr recorded states read "from → to".
func statesPassed(h client.History) string {
	if len(h.States) == 0 {
		return dash(string(h.From)) + " → " + string(h.To)
	}
	parts := make([]string, len(h.States))
	for i, st := range h.States {
		parts[i] = string(st.State)
		if st.DurationMs > 0 {
			parts[i] += " (" + millis(st.DurationMs) + ")"
		}
	}
	return strings.Join(parts, " → ")
}

// millis rounds a duration in milliseconds for people: 85ms, 2.1s, 3m5s.
func millis(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case ms <= 0:
		return "-"
	case d < time.Second:
		return d.String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}
