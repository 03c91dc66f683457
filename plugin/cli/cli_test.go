package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const fnJSON = `{"namespace":"guest","name":"hello","state":"PUBLISHED","head":{"revision":3,"digest":"sha256-0123456789abcdef0123","updated":"2026-01-02T03:04:05Z"},
"versions":[{"version":1,"digest":"sha256-aaaaaaaaaaaaaaaa","created":"2026-01-01T00:00:00Z","description":"first"}],
"aliases":{"prod":{"routing":[{"version":1,"weight":90},{"version":2,"weight":10}],"updated":"2026-01-01T00:00:00Z"}},
"config":{"memorySize":256},"limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1}}`

// TestHelp: the root, every group and every command explain themselves,
// with an example.
func TestHelp(t *testing.T) {
	code, out, _ := runCLI(t, "", nil, "--help")
	require.Equal(t, ExitOK, code)
	for _, c := range Root().Sub {
		require.Contains(t, out, "  "+c.Name, "root help lists %s", c.Name)
	}
	require.Contains(t, out, "~/.wskprops")
	require.Contains(t, out, "Examples:")
	var walk func(c *Command, path []string)
	walk = func(c *Command, path []string) {
		path = append(path, c.Name)
		t.Run(strings.Join(path[1:], " "), func(t *testing.T) {
			code, out, errOut := runCLI(t, "", nil, append(path[1:], "--help")...)
			require.Equal(t, ExitOK, code, errOut)
			if c.Raw != nil {
				require.Contains(t, out, "Usage: fnmgr "+c.Name)
				return
			}
			require.Contains(t, out, "Usage: "+strings.Join(path, " "))
			require.Contains(t, out, c.Summary)
			if len(c.Sub) == 0 {
				require.Contains(t, out, "Examples:\n  fnmgr "+strings.Join(path[1:], " "), "an example of the command itself")
				require.Contains(t, out, "Global flags:")
				require.Contains(t, out, "--json")
			}
		})
		for _, s := range c.Sub {
			walk(s, path)
		}
	}
	for _, c := range Root().Sub {
		walk(c, []string{"fnmgr"})
	}
}

func TestCredentials(t *testing.T) {
	f := newFakeAPI(t).on("GET /v1/namespaces/guest/functions", 200, `[]`).on("GET /v1/namespaces/other/functions", 200, `[]`).
		on("GET /v1/namespaces/_/functions", 200, `[]`)
	basic := func(k string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(k)) }
	tests := []struct {
		name     string
		props    string
		vars     map[string]string
		args     []string
		wantCode int
		wantAuth string
		wantPath string
		wantErr  string
	}{
		{"wskprops", f.props(), nil, nil, 0, basic("23bc46b1-71f6-4ed5-8c54-816aa4f8c502:secretkey"), "/v1/namespaces/guest/functions", ""},
		{"--auth wins", f.props(), nil, []string{"--auth", "u:k"}, 0, basic("u:k"), "/v1/namespaces/guest/functions", ""},
		{"-u", f.props(), nil, []string{"-u", "u:k"}, 0, basic("u:k"), "", ""},
		{"FNMGR_AUTH", f.props(), map[string]string{EnvAuth: "e:k"}, nil, 0, basic("e:k"), "", ""},
		{"admin token", f.props(), map[string]string{EnvAdminToken: "tok-0123456789abcdef"}, []string{"--namespace", "other"}, 0,
			"Bearer tok-0123456789abcdef", "/v1/namespaces/other/functions", ""},
		{"admin token needs a namespace", "FNMGR_ADMIN=" + f.srv.URL, nil, []string{"--admin-token", "tok-0123456789abcdef"}, ExitUsage, "", "", "--namespace"},
		{"key and token", f.props(), map[string]string{EnvAuth: "e:k"}, []string{"--admin-token", "t"}, ExitUsage, "", "", "not both"},
		{"no namespace: own", "AUTH=a:b\nFNMGR_ADMIN=" + f.srv.URL, nil, nil, 0, basic("a:b"), "/v1/namespaces/_/functions", ""},
		{"FNMGR_ADMIN env over the file", "AUTH=a:b\nFNMGR_ADMIN=http://127.0.0.1:1", map[string]string{EnvAdmin: f.srv.URL}, nil, 0, basic("a:b"), "", ""},
		{"no credentials", "", nil, nil, ExitError, "", "", "no credentials: set AUTH in"},
		{"bad key", "AUTH=nocolon", nil, nil, ExitUsage, "", "", "uuid:key"},
		{"admin unreachable", "AUTH=a:b\nFNMGR_ADMIN=http://127.0.0.1:1", nil, nil, ExitError, "", "", "cannot reach the admin API at 127.0.0.1:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tc.props, tc.vars, append([]string{"functions", "list"}, tc.args...)...)
			require.Equal(t, tc.wantCode, code, errOut)
			if tc.wantErr != "" {
				require.Contains(t, errOut, tc.wantErr)
				require.True(t, strings.HasPrefix(errOut, "error: "), errOut)
				require.NotContains(t, errOut, "secretkey")
				return
			}
			if tc.wantAuth != "" {
				require.Equal(t, tc.wantAuth, f.last().auth)
			}
			if tc.wantPath != "" {
				require.Equal(t, tc.wantPath, f.last().path)
			}
		})
	}
}

func TestAPIErrorPrinted(t *testing.T) {
	f := newFakeAPI(t).on("POST /v1/namespaces/guest/functions/hello/unblock", http.StatusConflict,
		`{"error":"Function guest/hello is not blocked.","code":"abc123"}`)
	code, out, errOut := runCLI(t, f.props(), nil, "unblock", "hello")
	require.Equal(t, ExitError, code)
	require.Empty(t, out)
	require.Equal(t, "error: Function guest/hello is not blocked. (code abc123)\n", errOut)
}

// TestCommands drives each command against the fake and checks the request
// it sends and what it prints.
func TestCommands(t *testing.T) {
	const base = "/v1/namespaces/guest/functions/"
	f := newFakeAPI(t).
		on("GET /v1/namespaces/guest/functions", 200, `[`+fnJSON+`]`).
		on("GET "+base+"hello", 200, fnJSON).
		on("GET "+base+"demo%2Fhello", 200, fnJSON).
		on("GET "+base+"hello/revisions", 200, `[{"revision":3,"digest":"sha256-1","observed":"2026-01-02T03:04:05Z","snapshot":{"exec":{"kind":"nodejs:20","binary":false},"limits":{"memory":256},"parameters":[],"annotations":[]}}]`).
		on("GET "+base+"hello/versions", 200, `[{"version":1,"digest":"sha256-1","revision":1,"created":"2026-01-01T00:00:00Z","snapshot":{"exec":{"kind":"nodejs:20"},"limits":{"memory":256},"parameters":[],"annotations":[]}}]`).
		on("GET "+base+"hello/versions/1", 200, `{"version":1,"digest":"sha256-1","revision":1,"created":"2026-01-01T00:00:00Z","snapshot":{"exec":{"kind":"nodejs:20"},"limits":{"memory":256},"parameters":[{"key":"secret","value":"s3cr3t"}],"annotations":[]},"code":"function main() {}"}`).
		on("DELETE "+base+"hello/versions/1", 200, `{"version":1,"retired":true}`).
		on("POST "+base+"hello/versions", 201, `{"version":2,"digest":"sha256-2"}`).
		on("POST "+base+"hello/rollback", 200, `{"version":1,"digest":"sha256-1"}`).
		on("PUT "+base+"hello/aliases/prod", 200, `{"alias":"prod","routing":[{"version":1,"weight":90},{"version":2,"weight":10}],"updated":"2026-01-01T00:00:00Z"}`).
		on("GET "+base+"hello/aliases/prod", 200, `{"alias":"prod","routing":[{"version":1,"weight":100}],"updated":"2026-01-01T00:00:00Z"}`).
		on("DELETE "+base+"hello/aliases/prod", 200, `{"alias":"prod","deleted":true}`).
		on("POST "+base+"hello/block", 200, strings.Replace(fnJSON, "PUBLISHED", "BLOCKED", 1)).
		on("POST "+base+"hello/unblock", 200, fnJSON).
		on("POST "+base+"hello/update", 200, strings.Replace(fnJSON, "PUBLISHED", "LATEST", 1)).
		on("POST "+base+"hello/retire", 200, strings.Replace(fnJSON, `"config"`, `"purgeAt":"2026-02-01T00:00:00Z","config"`, 1)).
		on("GET "+base+"hello/history", 200, `[{"at":"2026-01-01T00:00:00Z","from":"LATEST","to":"BLOCKED","by":"admin","reason":"bad","revision":3},`+
			`{"at":"2026-01-01T00:01:00Z","from":"LATEST","to":"LATEST","by":"ops","revision":4,"op":"update","durationMs":2140,`+
			`"states":[{"state":"LATEST"},{"state":"UPDATING","durationMs":2130},{"state":"LATEST"}],"outcome":"failed","error":"the test invocation failed"}]`).
		on("PUT "+base+"hello/config", 200, `{"memorySize":512,"gpuNum":1}`)
	tests := []struct {
		name     string
		args     []string
		wantReq  string // "METHOD path"
		wantBody string // JSON the request body must equal
		wantOut  []string
	}{
		{"functions list", []string{"functions", "list", "--state", "blocked"}, "GET /v1/namespaces/guest/functions", "", []string{"Function", "/guest/hello", "PUBLISHED", "prod"}},
		{"functions get", []string{"functions", "get", "hello"}, "GET " + base + "hello", "", []string{"state:", "PUBLISHED", "1=90,2=10", "first"}},
		{"packaged function", []string{"functions", "get", "demo/hello"}, "GET " + base + "demo%2Fhello", "", []string{"PUBLISHED"}},
		{"revisions list", []string{"revisions", "list", "hello"}, "GET " + base + "hello/revisions", "", []string{"Revision", "nodejs:20"}},
		{"versions list", []string{"versions", "list", "hello"}, "GET " + base + "hello/versions", "", []string{"Version", "Digest"}},
		{"versions get --code", []string{"versions", "get", "hello", "1", "--code"}, "GET " + base + "hello/versions/1", "", []string{"function main() {}", "parameter secret"}},
		{"versions retire", []string{"versions", "retire", "hello", "1"}, "DELETE " + base + "hello/versions/1", "", []string{"ok: retired version 1 of hello"}},
		{"publish", []string{"publish", "hello", "--description", "second"}, "POST " + base + "hello/versions", `{"description":"second"}`, []string{"ok: published hello as version 2", "hello@2"}},
		{"rollback", []string{"rollback", "hello", "1"}, "POST " + base + "hello/rollback", `{"version":1}`, []string{"ok: rolled hello back to version 1"}},
		{"aliases set --routing", []string{"aliases", "set", "hello", "prod", "--routing", "1=90,2=10"}, "PUT " + base + "hello/aliases/prod",
			`{"routing":[{"version":1,"weight":90},{"version":2,"weight":10}]}`, []string{"ok: alias prod of hello routes to 1=90,2=10"}},
		{"aliases set --version", []string{"aliases", "set", "hello", "prod", "--version", "2"}, "PUT " + base + "hello/aliases/prod",
			`{"routing":[{"version":2,"weight":100}]}`, nil},
		{"aliases get", []string{"aliases", "get", "hello", "prod"}, "GET " + base + "hello/aliases/prod", "", []string{"Version", "100%"}},
		{"aliases list", []string{"aliases", "list", "hello"}, "GET " + base + "hello", "", []string{"prod", "1=90,2=10"}},
		{"aliases delete", []string{"aliases", "delete", "hello", "prod"}, "DELETE " + base + "hello/aliases/prod", "", []string{"ok: deleted alias prod of hello"}},
		{"block", []string{"block", "hello", "--reason", "bad"}, "POST " + base + "hello/block", `{"reason":"bad"}`, []string{"ok: blocked hello (state BLOCKED"}},
		{"unblock", []string{"unblock", "hello"}, "POST " + base + "hello/unblock", `{}`, []string{"ok: unblocked hello"}},
		{"update limits and params", []string{"update", "hello", "--memory", "512", "-p", "name", "world", "-p", "n", "3", "--test", `{"x":1}`},
			"POST " + base + "hello/update", `{"limits":{"memory":512},"parameters":[{"key":"name","value":"world"},{"key":"n","value":3}],"test":{"x":1}}`,
			[]string{"ok: updated hello (state LATEST"}},
		{"retire", []string{"retire", "hello", "--reason", "old", "--grace", "1h"}, "POST " + base + "hello/retire", `{"reason":"old","graceSeconds":3600}`, []string{"ok: retired hello; it will be purged at"}},
		{"history", []string{"history", "hello"}, "GET " + base + "hello/history", "", []string{"At", "BLOCKED", "admin", "bad", "Op", "update", "LATEST → UPDATING (2.1s) → LATEST", "failed: the test invocation failed", "2.1s"}},
		{"config set", []string{"config", "hello", "--memory", "512", "--gpu-num", "1"}, "PUT " + base + "hello/config", `{"memorySize":512,"gpuNum":1}`, []string{"ok: updated the settings", "512 MB"}},
		{"config show", []string{"config", "hello"}, "GET " + base + "hello", "", []string{"Setting", "256 MB"}},
		{"--json", []string{"functions", "get", "hello", "--json"}, "GET " + base + "hello", "", []string{`"state": "PUBLISHED"`}},
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
			for _, w := range tc.wantOut {
				require.Contains(t, out, w)
			}
			require.NotContains(t, out, "s3cr3t", "parameter values stay out of tables")
		})
	}
}

func TestUsageErrors(t *testing.T) {
	f := newFakeAPI(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing name", []string{"publish"}, "publish needs NAME"},
		{"extra argument", []string{"publish", "a", "b"}, `unexpected argument "b"`},
		{"bad version", []string{"rollback", "hello", "x"}, "positive whole number"},
		{"alias needs a target", []string{"aliases", "set", "hello", "prod"}, "--version N or --routing"},
		{"bad routing", []string{"aliases", "set", "hello", "prod", "--routing", "1:90"}, "VERSION=WEIGHT"},
		{"unknown flag", []string{"block", "hello", "--frob"}, "unknown flag: --frob"},
		{"param needs two", []string{"update", "hello", "-p", "only"}, "KEY VALUE"},
		{"nothing to update", []string{"update", "hello"}, "nothing to update"},
		{"unknown kind", []string{"update", "hello", "code.xyz"}, "--kind"},
		{"unknown command", []string{"versions", "frob"}, `unknown command "frob"`},
		{"optimize needs payloads", []string{"optimize", "hello"}, "--payload"},
		{"bad grace", []string{"retire", "hello", "--grace", "soon"}, "--grace"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, f.props(), nil, tc.args...)
			require.Equal(t, ExitUsage, code, errOut)
			require.Contains(t, errOut, tc.want)
		})
	}
}

// TestCompletion: each shell's script asks fnmgr what to complete, and
// fnmgr answers with the commands and flags of the line typed so far.
func TestCompletion(t *testing.T) {
	registers := map[string]string{
		"bash":       "complete -o default -F __start_fnmgr fnmgr",
		"zsh":        "compdef _fnmgr fnmgr",
		"fish":       "complete -c fnmgr -n '__fnmgr_clear_perform_completion_once_result'",
		"powershell": "Register-ArgumentCompleter -CommandName 'fnmgr'",
	}
	for _, shell := range shells {
		t.Run(shell, func(t *testing.T) {
			code, out, errOut := runCLI(t, "", nil, "completion", shell)
			require.Equal(t, ExitOK, code, errOut)
			require.Contains(t, out, registers[shell])
			require.Contains(t, out, "__complete")
		})
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		t.Run("in bash", func(t *testing.T) {
			_, out, _ := runCLI(t, "", nil, "completion", "bash")
			// The script runs fnmgr __complete: here the test binary
			// is fnmgr. _get_comp_words_by_ref is bash-completion's,
			// which the script expects; a minimal one stands in.
			script := `_get_comp_words_by_ref() { cur="${COMP_WORDS[COMP_CWORD]}"; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
compopt() { :; }
` + out + `
for line in "fnmgr versions l" "fnmgr block hello --r" "fnmgr pub"; do
    COMP_WORDS=($line); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
    __start_fnmgr; echo "${COMPREPLY[*]}"
done`
			cmd := exec.Command(bash, "-c", script)
			cmd.Env = append(os.Environ(), "PATH="+fnmgrOnPath(t), envExec+"=1")
			got, err := cmd.CombinedOutput()
			require.NoError(t, err, string(got))
			require.Equal(t, []string{"list", "--reason --request-timeout", "publish"}, lines(string(got)))
		})
	}
	tests := []struct {
		name string
		line []string // the words after fnmgr, the last one being completed
		want []string
	}{
		{"commands", []string{""}, []string{"aliases", "block", "check", "completion", "config", "functions", "help", "history", "optimize",
			"publish", "retire", "revisions", "rollback", "unblock", "update", "version", "versions"}},
		{"command prefix", []string{"pub"}, []string{"publish"}},
		{"subcommand", []string{"versions", "l"}, []string{"list"}},
		{"subcommands", []string{"versions", ""}, []string{"get", "list", "retire"}},
		{"flags", []string{"block", "hello", "--r"}, []string{"--reason", "--request-timeout"}},
		{"global flags", []string{"functions", "list", "--a"}, []string{"--admin", "--admin-token", "--auth"}},
		{"shells", []string{"completion", ""}, shells},
		{"a command's own subcommands", []string{"optimize", "re"}, []string{"replay"}},
		{"a subcommand's flags", []string{"optimize", "replay", "--cu"}, []string{"--curves"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "", nil, append([]string{"__complete"}, tc.line...)...)
			require.Equal(t, ExitOK, code, errOut)
			var got []string
			for _, l := range lines(out) {
				if strings.HasPrefix(l, ":") {
					continue // the directive
				}
				name, _, _ := strings.Cut(l, "\t")
				got = append(got, name)
			}
			require.ElementsMatch(t, tc.want, got)
		})
	}
	code, _, errOut := runCLI(t, "", nil, "completion", "tcsh")
	require.Equal(t, ExitUsage, code)
	require.Contains(t, errOut, "bash, zsh, fish")
}

// TestSuggestions: a misspelled command is a usage error that names the
// command meant.
func TestSuggestions(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"root", []string{"pubish", "hello"}, "unknown command \"pubish\" for \"fnmgr\"\n\nDid you mean this?\n\tpublish\n"},
		{"group", []string{"versions", "lsit", "hello"}, "unknown command \"lsit\" for \"fnmgr versions\"\n\nDid you mean this?\n\tlist\n"},
		{"no suggestion", []string{"frobnicate"}, "unknown command \"frobnicate\" for \"fnmgr\"\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "", nil, tc.args...)
			require.Equal(t, ExitUsage, code, errOut)
			require.Empty(t, out)
			require.True(t, strings.HasSuffix(errOut, "error: "+tc.want), errOut)
			if tc.name == "no suggestion" {
				require.NotContains(t, errOut, "Did you mean")
			}
		})
	}
}

func TestOptimize(t *testing.T) {
	const path = "/v1/namespaces/guest/functions/hello/optimizations"
	report := `{"status":"succeeded","progress":{"done":4,"total":4},"report":{"objective":"cost","current":{"memoryMB":128},
		"active":{"decision":{"memoryMB":256},"settled":false,"stopReason":"the budget ran out","points":[
			{"memoryMB":128,"feasibility":"feasible","cold":[{}],"warm":[{}],"stats":{"n":1,"medianMs":120.5123,"ciLowMs":110.25,"ciHighMs":131.987},"gbSeconds":0.01506},
			{"memoryMB":256,"feasibility":"feasible","cold":[{}],"warm":[{}],"stats":{"n":1,"medianMs":60.1,"ciLowMs":55.5,"ciHighMs":66.6},"gbSeconds":0.015025}]},
		"recommendation":{"memoryMB":256,"source":"active","why":"cheapest"},
		"saving":{"currentMs":120.5123,"recommendedMs":60.1,"currentGBSeconds":0.01506,"recommendedGBSeconds":0.015025,"gbSecondsSavedPct":0.23},
		"invocations":4,"gbSeconds":0.0601}}`
	f := newFakeAPI(t).on("POST "+path, 202, `{"id":"op1"}`).
		on("GET "+path+"/op1", 200, `{"status":"running","progress":{"done":1,"total":4}}`).
		on("GET "+path+"/op1", 200, report).
		on("DELETE "+path+"/op1", 200, `{}`)
	var errOut bytes.Buffer
	var out bytes.Buffer
	props := filepath.Join(t.TempDir(), "wskprops")
	require.NoError(t, os.WriteFile(props, []byte(f.props()), 0o600))
	e := Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return map[string]string{EnvWskConfig: props}[k] },
		IsTerminal: func(w io.Writer) bool { return w == &errOut }}
	code := Main(context.Background(), []string{"optimize", "hello", "--payload", `{"n":1}`, "--memory", "128,256", "--apply", "--poll", "10ms"}, e)
	require.Equal(t, ExitOK, code, errOut.String())
	require.Contains(t, errOut.String(), "[#######.......................] 1/4 invocations running")
	require.Contains(t, errOut.String(), "[##############################] 4/4 invocations succeeded")
	require.Contains(t, out.String(), "optimization op1 of hello: succeeded\n")
	require.Contains(t, out.String(), "recommended: 256 MB (now 128 MB)\n")
	require.Contains(t, out.String(), "time:        -50% (121 ms → 60 ms per invocation)\n")
	require.Contains(t, out.String(), "cost:        ±0% (0.0151 → 0.015 GB-s per invocation)\n")
	require.Contains(t, out.String(), "confidence:  not settled (the budget ran out)\n")
	require.Contains(t, out.String(), "invocations: 4 of 4 (0.0601 GB-s)\n")
	require.Contains(t, out.String(), "chart:       "+f.srv.URL+"/v1/namespaces/guest/functions/hello/optimizations/op1/chart.svg\n")
	tbl := lines(out.String())
	require.Equal(t, "MEMORY   RESULT     RUNS (COLD+WARM)   MEDIAN   95% RANGE       GB-S/INVOCATION", strings.TrimSpace(tbl[len(tbl)-3]))
	require.Equal(t, "256 MB   feasible   1+1                60 ms    56 ms–67 ms     0.015             ←", strings.TrimSpace(tbl[len(tbl)-1]))

	f.mu.Lock()
	start := f.requests[0]
	f.mu.Unlock()
	require.JSONEq(t, `{"payloads":[{"n":1}],"memoryCandidates":[128,256],"apply":true}`, start.body)

	t.Run("not a terminal: no bar", func(t *testing.T) {
		code, out, errOut := runCLI(t, f.props(), nil, "optimize", "hello", "--status", "op1")
		require.Equal(t, ExitOK, code, errOut)
		require.Empty(t, errOut)
		require.Contains(t, out, "succeeded")
	})
	t.Run("cancel", func(t *testing.T) {
		code, out, _ := runCLI(t, f.props(), nil, "optimize", "hello", "--cancel", "op1")
		require.Equal(t, ExitOK, code)
		require.Contains(t, out, "ok: cancelled optimization op1")
	})
	t.Run("failed run", func(t *testing.T) {
		f := newFakeAPI(t).on("GET "+path+"/op2", 200, `{"status":"failed","progress":{"done":2,"total":4},"error":"the function timed out"}`)
		code, out, errOut := runCLI(t, f.props(), nil, "optimize", "hello", "--status", "op2")
		require.Equal(t, ExitError, code)
		require.Contains(t, out, "failed")
		require.Contains(t, errOut, "error: optimization op2 of hello failed: the function timed out")
	})
	t.Run("list", func(t *testing.T) {
		f := newFakeAPI(t).on("GET "+path, 200, `[{"id":"op2","status":"running","progress":{"done":2,"total":15},"objective":"cost","mode":"active","created":"2026-01-02T03:04:05Z"},
			{"id":"op1","status":"succeeded","progress":{"done":4,"total":4},"objective":"min-resources","mode":"active","by":"alice","created":"2026-01-01T03:04:05Z",
			 "current":{"memoryMB":512},"recommendation":{"memoryMB":256,"source":"active"},"saving":{"gbSecondsSavedPct":47.6},"applied":true}]`)
		code, out, errOut := runCLI(t, f.props(), nil, "optimize", "list", "hello")
		require.Equal(t, ExitOK, code, errOut)
		rows := lines(out)
		require.Len(t, rows, 3)
		require.Regexp(t, `^ID +STARTED +STATUS +OBJECTIVE +RECOMMENDED +COST +BY$`, strings.TrimSpace(rows[0]))
		require.Regexp(t, `^op2 +.+ +running 2/15 +cost +- +- +-$`, strings.TrimSpace(rows[1]))
		require.Regexp(t, `^op1 +.+ +succeeded +min-resources +256 MB \(was 512 MB\), applied +-48% +alice$`, strings.TrimSpace(rows[2]))
	})
	t.Run("not implemented", func(t *testing.T) {
		f := newFakeAPI(t).on("POST "+path, 501, `{"error":"POST /v1/namespaces/{ns}/functions/{fn}/optimizations is not implemented yet in this fnmgr build.","code":"r1"}`)
		code, _, errOut := runCLI(t, f.props(), nil, "optimize", "hello", "--payload", "{}")
		require.Equal(t, ExitError, code)
		require.Equal(t, "error: POST /v1/namespaces/{ns}/functions/{fn}/optimizations is not implemented yet in this fnmgr build. (code r1)\n", errOut)
	})
}
