package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/plugin/client"
)

const (
	codeV1 = "function main(p) { return {v: 1, name: p.name} }"
	codeV2 = "function main(p) { return {v: 2, name: p.name} }"
)

// TestCommands runs every CLI command against the local stack, in the order
// a user would: each step depends on the ones before it.
func TestCommands(t *testing.T) {
	f := newFixture(t)
	const name = "cli-hello"
	f.create(t, name, codeV1)
	f.seen(t, name)
	newCode := filepath.Join(t.TempDir(), "hello.js")
	require.NoError(t, os.WriteFile(newCode, []byte(codeV2), 0o600))

	steps := []struct {
		name string
		args []string
		want []string // in stdout
	}{
		{"functions list", []string{"functions", "list"}, []string{"Function", "/guest/" + name, "LATEST"}},
		{"functions get", []string{"functions", "get", name}, []string{"state:", "LATEST", "revision 1"}},
		{"revisions list", []string{"revisions", "list", name}, []string{"Revision", "nodejs:"}},
		{"publish", []string{"publish", name, "--description", "first"}, []string{"ok: published " + name + " as version 1", name + "@1"}},
		{"publish again is the same version", []string{"publish", name}, []string{"unchanged since version 1"}},
		{"versions list", []string{"versions", "list", name}, []string{"Version", "first"}},
		{"versions get --code", []string{"versions", "get", name, "1", "--code"}, []string{"version:", codeV1}},
		{"update from a file", []string{"update", name, newCode, "--memory", "256", "-p", "name", "probe", "--test", `{"name":"t"}`},
			[]string{"ok: updated " + name + " (state LATEST"}},
		{"publish the update", []string{"publish", name, "--description", "second"}, []string{"as version 2"}},
		{"aliases set --version", []string{"aliases", "set", name, "prod", "--version", "1"}, []string{"ok: alias prod of " + name + " routes to 1"}},
		{"aliases set --routing", []string{"aliases", "set", name, "canary", "--routing", "1=90,2=10"}, []string{"routes to 1=90,2=10"}},
		{"aliases get", []string{"aliases", "get", name, "canary"}, []string{"90%", "10%"}},
		{"aliases list", []string{"aliases", "list", name}, []string{"canary", "prod"}},
		{"aliases delete", []string{"aliases", "delete", name, "canary"}, []string{"ok: deleted alias canary"}},
		{"rollback", []string{"rollback", name, "1"}, []string{"ok: rolled " + name + " back to version 1"}},
		{"block", []string{"block", name, "--reason", "cli test"}, []string{"ok: blocked " + name + " (state BLOCKED"}},
		{"unblock", []string{"unblock", name}, []string{"ok: unblocked " + name}},
		{"history", []string{"history", name}, []string{"BLOCKED", "cli test"}},
		{"config set", []string{"config", name, "--memory", "128"}, []string{"ok: updated the settings", "128 MB"}},
		{"config show", []string{"config", name}, []string{"Setting", "128 MB"}},
		{"versions retire", []string{"versions", "retire", name, "2"}, []string{"ok: retired version 2 of " + name}},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			r := f.run(t, nil, s.args...)
			require.Equal(t, 0, r.code, "stderr: %s\nstdout: %s", r.errOut, r.out)
			for _, w := range s.want {
				require.Contains(t, r.out, w)
			}
		})
		if !ok {
			t.FailNow() // later steps build on this one
		}
	}

	t.Run("--json", func(t *testing.T) {
		r := f.run(t, nil, "functions", "get", name, "--json")
		require.Equal(t, 0, r.code, r.errOut)
		fn := decode[client.Function](t, r.out)
		require.Equal(t, name, fn.Name)
		require.Contains(t, fn.Aliases, "prod")
	})
	t.Run("API error", func(t *testing.T) {
		r := f.run(t, nil, "unblock", name)
		require.Equal(t, 1, r.code)
		require.Regexp(t, `^error: .+ \(code [A-Za-z0-9]+\)\n$`, r.errOut)
	})
	t.Run("alias in use", func(t *testing.T) {
		r := f.run(t, nil, "versions", "retire", name, "1")
		require.Equal(t, 1, r.code)
		require.Contains(t, r.errOut, "error: ")
		require.Contains(t, r.errOut, "prod")
	})
	t.Run("admin token", func(t *testing.T) {
		r := f.run(t, map[string]string{"FNMGR_ADMIN_TOKEN": f.env.AdminToken}, "functions", "get", name, "--namespace", f.env.Namespace, "--json")
		require.Equal(t, 0, r.code, r.errOut)
	})
	t.Run("wrong key", func(t *testing.T) {
		uuid, _, _ := strings.Cut(f.env.Auth, ":")
		r := f.run(t, nil, "functions", "list", "--auth", uuid+":wrong")
		require.Equal(t, 1, r.code)
		require.Contains(t, r.errOut, "error: The supplied authentication is invalid.")
		require.NotContains(t, r.errOut, uuid+":wrong")
	})
	t.Run("retire", func(t *testing.T) {
		require.Equal(t, 0, f.run(t, nil, "aliases", "delete", name, "prod").code)
		r := f.run(t, nil, "retire", name, "--reason", "done", "--grace", "1h")
		require.Equal(t, 0, r.code, r.errOut)
		require.Contains(t, r.out, "ok: retired "+name)
		r = f.run(t, nil, "functions", "list", "--state", "RETIRED")
		require.Contains(t, r.out, "/guest/"+name)
	})
}
