package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fnmgr/fnmgr/plugin/client"
)

// versionArg parses a version number argument.
func versionArg(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "@"))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%w: version %q must be a positive whole number", ErrUsage, s)
	}
	return n, nil
}

func versionsCommand() *Command {
	return &Command{Name: "versions", Summary: "list, show and retire published versions", Sub: []*Command{
		{Name: "list", Args: "NAME", Summary: "list the published versions of a function",
			Long:    "Lists the live published versions of function NAME. Each version N is also the\nOpenWhisk action NAME@N, which runs exactly that code and those limits.",
			Example: "fnmgr versions list hello",
			Flags: noFlags(func(ctx context.Context, s *Session, args []string) error {
				vs, err := s.client.Versions(ctx, args[0], false)
				if err != nil {
					return err
				}
				return s.emit(vs, func(w io.Writer) error {
					rows := [][]string{}
					for _, v := range vs {
						rows = append(rows, []string{itoa(v.Version), shortDigest(v.Digest), itoa(v.Revision), dash(v.Snapshot.Exec.Kind),
							itoa(v.Snapshot.Limits.Memory) + " MB", when(v.Created), dash(v.Description)})
					}
					return table(w, []string{"Version", "Digest", "Revision", "Kind", "Memory", "Created", "Description"}, rows)
				})
			})},
		{Name: "get", Args: "NAME VERSION", Summary: "show one published version, optionally with its code",
			Long:    "Shows version VERSION of function NAME: its digest, the revision it was published\nfrom, its exec, limits, parameters and annotations; --code adds its code.",
			Example: "fnmgr versions get hello 2\nfnmgr versions get hello 2 --code",
			Flags: func(fs *pflag.FlagSet) Action {
				code := fs.Bool("code", false, "include the version's code")
				return func(ctx context.Context, s *Session, args []string) error {
					n, err := versionArg(args[1])
					if err != nil {
						return err
					}
					v, err := s.client.Version(ctx, args[0], n, *code)
					if err != nil {
						return err
					}
					return s.emit(v, func(w io.Writer) error { return versionDetail(w, args[0], v) })
				}
			}},
		{Name: "retire", Args: "NAME VERSION", Summary: "retire one published version",
			Long:    "Retires version VERSION of function NAME: the action NAME@VERSION is removed. A\nversion an alias points at cannot be retired (move or delete the alias first).",
			Example: "fnmgr versions retire hello 1",
			Flags: noFlags(func(ctx context.Context, s *Session, args []string) error {
				n, err := versionArg(args[1])
				if err != nil {
					return err
				}
				if err := s.client.RetireVersion(ctx, args[0], n); err != nil {
					return err
				}
				return s.okf(map[string]any{"version": n, "retired": true}, "retired version %d of %s", n, args[0])
			})},
	}}
}

func versionDetail(w io.Writer, name string, v client.Version) error {
	kv := [][2]string{
		{"function", name},
		{"version", itoa(v.Version)},
		{"digest", v.Digest},
		{"revision", itoa(v.Revision)},
		{"created", when(v.Created) + " by " + dash(v.CreatedBy)},
		{"description", dash(v.Description)},
		{"kind", dash(v.Snapshot.Exec.Kind)},
		{"limits", fmt.Sprintf("memory %d MB, timeout %d ms, logs %d MB, concurrency %d", v.Snapshot.Limits.Memory, v.Snapshot.Limits.Timeout, v.Snapshot.Limits.Logs, v.Snapshot.Limits.Concurrency)},
	}
	for _, p := range v.Snapshot.Parameters {
		kv = append(kv, [2]string{"parameter " + p.Key, "(set; see --json)"})
	}
	for _, a := range v.Snapshot.Annotations {
		kv = append(kv, [2]string{"annotation " + a.Key, string(a.Value)})
	}
	if err := fields(w, kv); err != nil {
		return err
	}
	if v.Code != nil {
		_, err := fmt.Fprintf(w, "\n%s\n", strings.TrimRight(*v.Code, "\n"))
		return err
	}
	return nil
}

func publishCommand() *Command {
	return &Command{Name: "publish", Args: "NAME", Summary: "publish the head of a function as a new version",
		Long: "Publishes the head (latest revision) of function NAME as immutable version N, also\n" +
			"created as the OpenWhisk action NAME@N. Publishing a head identical to the newest\nversion returns that version.",
		Example: `fnmgr publish hello --description "first release"`,
		Flags: func(fs *pflag.FlagSet) Action {
			desc := fs.String("description", "", "what this version is, in a `SENTENCE`")
			return func(ctx context.Context, s *Session, args []string) error {
				p, err := s.client.Publish(ctx, args[0], *desc)
				if err != nil {
					return err
				}
				if !p.Created {
					return s.okf(p, "%s is unchanged since version %d (%s)", args[0], p.Version, shortDigest(p.Digest))
				}
				return s.okf(p, "published %s as version %d (%s); invoke it as %s@%d", args[0], p.Version, shortDigest(p.Digest), args[0], p.Version)
			}
		}}
}

func rollbackCommand() *Command {
	return &Command{Name: "rollback", Args: "NAME VERSION", Summary: "make a published version the head again",
		Long:    "Rolls function NAME back: its head becomes the code and limits of version VERSION.",
		Example: "fnmgr rollback hello 1",
		Flags: noFlags(func(ctx context.Context, s *Session, args []string) error {
			n, err := versionArg(args[1])
			if err != nil {
				return err
			}
			p, err := s.client.Rollback(ctx, args[0], n)
			if err != nil {
				return err
			}
			return s.okf(p, "rolled %s back to version %d (%s)", args[0], p.Version, shortDigest(p.Digest))
		})}
}

// parseRouting reads "1=90,2=10" (VERSION=WEIGHT, comma-separated).
func parseRouting(s string) ([]client.Route, error) {
	var out []client.Route
	for _, part := range strings.Split(s, ",") {
		v, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err1 := strconv.Atoi(strings.TrimSpace(v))
		wt, err2 := strconv.Atoi(strings.TrimSpace(w))
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w: --routing %q: write VERSION=WEIGHT pairs, such as 1=90,2=10", ErrUsage, s)
		}
		out = append(out, client.Route{Version: n, Weight: wt})
	}
	return out, nil
}

func aliasesCommand() *Command {
	return &Command{Name: "aliases", Summary: "point aliases at versions, with weighted routing", Sub: []*Command{
		{Name: "set", Args: "NAME ALIAS", Summary: "create or move an alias",
			Long: "Points ALIAS of function NAME at one version (--version N) or splits its calls\n" +
				"between versions by weight (--routing 1=90,2=10). The OpenWhisk action NAME@ALIAS\n" +
				"runs the first version; through the gateway, calls are split by weight.",
			Example: "fnmgr aliases set hello prod --version 2\nfnmgr aliases set hello prod --routing 1=90,2=10",
			Flags: func(fs *pflag.FlagSet) Action {
				var version intFlag
				fs.Var(&version, "version", "the `VERSION` the alias runs")
				routes := fs.String("routing", "", "split calls by weight: `VERSION=WEIGHT,…` (weights add up to 100)")
				return func(ctx context.Context, s *Session, args []string) error {
					var rs []client.Route
					switch {
					case version.set && *routes != "":
						return fmt.Errorf("%w: give --version or --routing, not both", ErrUsage)
					case version.set:
						rs = []client.Route{{Version: version.v, Weight: 100}}
					case *routes != "":
						var err error
						if rs, err = parseRouting(*routes); err != nil {
							return err
						}
					default:
						return fmt.Errorf("%w: aliases set needs --version N or --routing 1=90,2=10", ErrUsage)
					}
					al, err := s.client.SetAlias(ctx, args[0], args[1], rs)
					if err != nil {
						return err
					}
					return s.okf(al, "alias %s of %s routes to %s", args[1], args[0], routing(al.Routing))
				}
			}},
		{Name: "get", Args: "NAME ALIAS", Summary: "show an alias's routing",
			Example: "fnmgr aliases get hello prod",
			Flags: noFlags(func(ctx context.Context, s *Session, args []string) error {
				al, err := s.client.Alias(ctx, args[0], args[1])
				if err != nil {
					return err
				}
				return s.emit(al, func(w io.Writer) error {
					rows := [][]string{}
					for _, r := range al.Routing {
						rows = append(rows, []string{itoa(r.Version), itoa(r.Weight) + "%"})
					}
					fmt.Fprintf(w, "alias %s of %s, updated %s\n", al.Alias, args[0], when(al.Updated))
					return table(w, []string{"Version", "Weight"}, rows)
				})
			})},
		{Name: "list", Args: "NAME", Summary: "list a function's aliases",
			Example: "fnmgr aliases list hello",
			Flags: noFlags(func(ctx context.Context, s *Session, args []string) error {
				f, err := s.client.Function(ctx, args[0])
				if err != nil {
					return err
				}
				als := make([]client.Alias, 0, len(f.Aliases))
				for n, a := range f.Aliases {
					als = append(als, client.Alias{Alias: n, Routing: a.Routing, Updated: a.Updated})
				}
				sort.Slice(als, func(i, j int) bool { return als[i].Alias < als[j].Alias })
				return s.emit(als, func(w io.Writer) error { return aliasTable(w, f.Aliases) })
			})},
		{Name: "delete", Args: "NAME ALIAS", Summary: "remove an alias",
			Long:    "Removes ALIAS of function NAME and the OpenWhisk action NAME@ALIAS.",
			Example: "fnmgr aliases delete hello canary",
			Flags: noFlags(func(ctx context.Context, s *Session, args []string) error {
				if err := s.client.DeleteAlias(ctx, args[0], args[1]); err != nil {
					return err
				}
				return s.okf(map[string]any{"alias": args[1], "deleted": true}, "deleted alias %s of %s", args[1], args[0])
			})},
	}}
}
