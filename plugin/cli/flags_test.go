package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

// TestFlagSyntax: the command line's forms, as pflag and wsk read them,
// reach the admin API as the request they mean.
func TestFlagSyntax(t *testing.T) {
	const base = "/v1/namespaces/guest/functions/"
	f := newFakeAPI(t).
		on("GET /v1/namespaces/guest/functions", 200, `[]`).
		on("GET /v1/namespaces/other/functions", 200, `[]`).
		on("GET "+base+"hello", 200, fnJSON).
		on("POST "+base+"hello/block", 200, fnJSON).
		on("POST "+base+"-p/block", 200, fnJSON).
		on("POST "+base+"hello/update", 200, fnJSON)
	tests := []struct {
		name     string
		args     []string
		wantReq  string
		wantBody string
		wantOut  string
	}{
		{"--flag=value", []string{"block", "hello", "--reason=bad"}, "POST " + base + "hello/block", `{"reason":"bad"}`, ""},
		{"a flag before the name", []string{"block", "--reason", "bad", "hello"}, "POST " + base + "hello/block", `{"reason":"bad"}`, ""},
		{"a value that looks like a flag", []string{"block", "hello", "--reason", "-p"}, "POST " + base + "hello/block", `{"reason":"-p"}`, ""},
		{"-- ends the flags", []string{"block", "--reason", "x", "--", "-p"}, "POST " + base + "-p/block", `{"reason":"x"}`, ""},
		{"global flags before the command", []string{"--namespace", "other", "functions", "list"}, "GET /v1/namespaces/other/functions", "", ""},
		{"a global flag before the name", []string{"functions", "get", "--json", "hello"}, "GET " + base + "hello", "", `"state": "PUBLISHED"`},
		{"pairs, shorthands and JSON values", []string{"update", "-a", "web-export", "true", "hello", "--param", "k", `{"a":1}`, "-p", "s", "two words", "--memory=256"},
			"POST " + base + "hello/update",
			`{"limits":{"memory":256},"parameters":[{"key":"k","value":{"a":1}},{"key":"s","value":"two words"}],"annotations":[{"key":"web-export","value":true}]}`, ""},
		{"a pair whose key looks like a flag", []string{"update", "hello", "-p", "--memory", "1"}, "POST " + base + "hello/update",
			`{"parameters":[{"key":"--memory","value":1}]}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, f.props(), nil, tc.args...)
			require.Equal(t, ExitOK, code, errOut)
			got := f.last()
			require.Equal(t, tc.wantReq, got.method+" "+got.path)
			if tc.wantBody != "" {
				require.JSONEq(t, tc.wantBody, got.body)
			}
			require.Contains(t, out, tc.wantOut)
		})
	}
	t.Run("-u=KEY", func(t *testing.T) {
		code, _, errOut := runCLI(t, f.props(), nil, "functions", "list", "-u=u:k")
		require.Equal(t, ExitOK, code, errOut)
		require.Equal(t, "Basic dTpr", f.last().auth)
	})
}

// TestFlagErrors: what pflag refuses is a usage error naming the command,
// with its help on stderr, and asks the admin API nothing.
func TestFlagErrors(t *testing.T) {
	f := newFakeAPI(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a pair given as --param=KEY", []string{"update", "hello", "--param=k", "v"}, `fnmgr update: invalid argument "k" for "-p, --param" flag: takes two arguments, KEY VALUE`},
		{"a flag without its value", []string{"block", "hello", "--reason"}, "fnmgr block: flag needs an argument: --reason"},
		{"a bad number", []string{"update", "hello", "--memory", "x"}, `"x" is not a whole number`},
		{"a bad duration", []string{"functions", "list", "--request-timeout", "5x"}, `invalid argument "5x" for "--request-timeout" flag: time: unknown unit "x" in duration "5x"`},
		{"a flag a group does not have", []string{"versions", "--json"}, "fnmgr versions: unknown flag: --json"},
		{"an unknown shorthand", []string{"block", "hello", "-x"}, "unknown shorthand flag: 'x' in -x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, f.props(), nil, tc.args...)
			require.Equal(t, ExitUsage, code, errOut)
			require.Empty(t, out)
			require.Contains(t, errOut, "Usage: fnmgr "+tc.args[0])
			require.True(t, strings.HasSuffix(errOut, tc.want+"\n"), errOut)
		})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Empty(t, f.requests)
}

// TestHelpListsEveryFlag: each command's help lists each flag of its flag
// set once, own flags apart from the global ones, shorthands and
// placeholders included, and not cobra's -h.
func TestHelpListsEveryFlag(t *testing.T) {
	tr := &tree{ctx: context.Background(), nodes: map[*cobra.Command]*node{}}
	var walk func(cc *cobra.Command)
	checked := 0
	walk = func(cc *cobra.Command) {
		for _, sub := range cc.Commands() {
			walk(sub)
		}
		n := tr.nodes[cc]
		if n == nil || n.c.Flags == nil {
			return
		}
		checked++
		t.Run(cc.CommandPath(), func(t *testing.T) {
			_, out, errOut := runCLI(t, "", nil, append(path(cc)[1:], "--help")...)
			require.Empty(t, errOut)
			own, global, _ := strings.Cut(out, "\nGlobal flags:\n")
			// listed are the flag lines of a section: "  -p, --param KEY VALUE   usage".
			listed := func(section, name string) (n int, line string) {
				for _, l := range lines(section) {
					f := strings.Fields(strings.Replace(l, ",", "", 1))
					for _, w := range f[:min(2, len(f))] {
						if strings.HasPrefix(l, "  -") && w == "--"+name {
							n, line = n+1, l
						}
					}
				}
				return n, line
			}
			cc.Flags().VisitAll(func(f *pflag.Flag) {
				inOwn, _ := listed(own, f.Name)
				inGlobal, line := listed(global, f.Name)
				switch {
				case f.Hidden:
					require.Zero(t, inOwn+inGlobal, "--%s is hidden", f.Name)
					return
				case isGlobal(f):
					require.Equal(t, [2]int{0, 1}, [2]int{inOwn, inGlobal}, "--%s under Global flags, once:\n%s", f.Name, out)
				default:
					_, line = listed(own, f.Name)
					require.Equal(t, [2]int{1, 0}, [2]int{inOwn, inGlobal}, "--%s under Flags, once:\n%s", f.Name, out)
				}
				if f.Shorthand != "" {
					require.True(t, strings.HasPrefix(line, "  -"+f.Shorthand+", --"+f.Name+" "), line)
				}
			})
		})
	}
	walk(tr.build(Root()))
	require.Greater(t, checked, 15, "the walk found the commands")

	_, out, _ := runCLI(t, "", nil, "update", "--help")
	require.Regexp(t, `(?m)^  -p, --param KEY VALUE +a parameter \(replaces the list\)$`, out)
	require.Regexp(t, `(?m)^  -a, --annotation KEY VALUE +an annotation`, out)
	require.Regexp(t, `(?m)^  --memory MB +memory limit in MB$`, out)
	require.Regexp(t, `(?m)^  -u, --auth KEY +OpenWhisk KEY uuid:key`, out)
	require.Regexp(t, `(?m)^  --request-timeout DURATION +how long .* \(default 30s\)$`, out)
	_, out, _ = runCLI(t, "", nil, "optimize", "replay", "--help")
	require.Regexp(t, `(?m)^  --objective cost +what to minimise: cost, min-resources, duration or balanced \(default cost\)$`, out)
	require.Regexp(t, `(?m)^  --tolerance FRACTION +.* \(default 0\.05\)$`, out)
}

// TestCompletionOfValues: completion offers the values a flag takes, and a
// line holding KEY VALUE pairs still completes.
func TestCompletionOfValues(t *testing.T) {
	tests := []struct {
		name      string
		line      []string
		want      []string
		directive cobra.ShellCompDirective
	}{
		{"objectives", []string{"optimize", "hello", "--objective", ""}, []string{"min-resources", "cost", "balanced", "duration"}, cobra.ShellCompDirectiveNoFileComp},
		{"replay's objectives", []string{"optimize", "replay", "--objective", "d"}, []string{"duration"}, cobra.ShellCompDirectiveNoFileComp},
		{"states", []string{"functions", "list", "--state", "B"}, []string{"BLOCKED"}, cobra.ShellCompDirectiveNoFileComp},
		{"kinds", []string{"update", "hello", "--kind", "py"}, []string{"python:default"}, cobra.ShellCompDirectiveNoFileComp},
		{"after pairs", []string{"update", "hello", "-p", "k", "v", "--annotation", "a", "b", "--m"}, []string{"--main", "--memory"}, cobra.ShellCompDirectiveNoFileComp},
		{"a folder", []string{"optimize", "replay", "--curves", ""}, nil, cobra.ShellCompDirectiveFilterDirs},
		{"no -h", []string{"block", "hello", "--h"}, nil, cobra.ShellCompDirectiveNoFileComp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "", nil, append([]string{"__complete"}, tc.line...)...)
			require.Equal(t, ExitOK, code, errOut)
			var got []string
			directive := ""
			for _, l := range lines(out) {
				if strings.HasPrefix(l, ":") {
					directive = l
					continue
				}
				name, _, _ := strings.Cut(l, "\t")
				got = append(got, name)
			}
			require.ElementsMatch(t, tc.want, got)
			require.Equal(t, ":"+itoa(int(tc.directive)), directive)
		})
	}
}
