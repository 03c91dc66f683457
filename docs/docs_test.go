package docs

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/plugin/admin"
	"github.com/fnmgr/fnmgr/plugin/config"
)

var update = flag.Bool("update", false, "rewrite the generated parts of the docs")

// TestOpenAPICopy: docs/openapi.json is the description the admin API
// serves at /v1/openapi.json (plugin/admin/openapi.json, which the admin
// package tests against its router).
func TestOpenAPICopy(t *testing.T) {
	served := admin.OpenAPI()
	if *update {
		require.NoError(t, os.WriteFile("openapi.json", served, 0o644))
	}
	doc, err := os.ReadFile("openapi.json")
	require.NoError(t, err)
	require.True(t, bytes.Equal(served, doc),
		"docs/openapi.json differs from plugin/admin/openapi.json: cp plugin/admin/openapi.json docs/ (or go test ./docs -update)")
}

// settingsTable renders config.Settings() as Markdown.
func settingsTable() string {
	var b strings.Builder
	b.WriteString("| flag and file key | environment variable | default | reload | what it sets |\n|---|---|---|---|---|\n")
	for _, s := range config.Settings() {
		def := "`" + s.Default + "`"
		if s.Default == "" {
			def = "none"
		}
		reload := ""
		if s.Reloadable {
			reload = "reload"
		}
		usage := strings.ReplaceAll(s.Usage, "|", "\\|")
		if s.Secret && !strings.Contains(usage, "never logged") {
			usage += " (secret: never logged)"
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s | %s |\n", s.Flag, s.Env, def, reload, usage)
	}
	return b.String()
}

// TestConfigurationTable: configuration.md's table is config.Settings().
func TestConfigurationTable(t *testing.T) {
	const begin, end = "<!-- settings:begin -->\n", "<!-- settings:end -->"
	raw, err := os.ReadFile("configuration.md")
	require.NoError(t, err)
	doc := string(raw)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	require.True(t, i >= 0 && j > i, "configuration.md lacks the settings markers")
	want := doc[:i+len(begin)] + settingsTable() + doc[j:]
	if *update {
		require.NoError(t, os.WriteFile("configuration.md", []byte(want), 0o644))
		return
	}
	require.Equal(t, want, doc, "configuration.md's table is stale: go test ./docs -run TestConfigurationTable -update")
}
