package config

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fnmgr.json")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

// TestPrecedence: flag > env > file > default, for the file named by
// --config and by FNMGR_CONFIG.
func TestPrecedence(t *testing.T) {
	file := writeFile(t, `{"admin-addr": "127.0.0.1:4001", "gateway-addr": "127.0.0.1:4002",
		"log-level": "debug", "controllers": ["http://c1:8080", "http://c2:8080"], "revision-retention": 7}`)
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, o Options)
	}{
		{"file over default", []string{"--config", file}, nil, func(t *testing.T, o Options) {
			require.Equal(t, "127.0.0.1:4001", o.AdminAddr)
			require.Equal(t, slog.LevelDebug, o.LogLevel)
			require.Len(t, o.Controllers, 2)
			require.Equal(t, 7, o.Retention)
			require.Equal(t, DefaultCouchURL, o.CouchURL.String(), "not in the file: the default")
			require.Equal(t, file, o.ConfigFile)
		}},
		{"file from FNMGR_CONFIG", nil, map[string]string{EnvConfig: file}, func(t *testing.T, o Options) {
			require.Equal(t, "127.0.0.1:4001", o.AdminAddr)
			require.Equal(t, file, o.ConfigFile)
		}},
		{"env over file", []string{"--config=" + file}, map[string]string{EnvAdminAddr: "127.0.0.1:5001"}, func(t *testing.T, o Options) {
			require.Equal(t, "127.0.0.1:5001", o.AdminAddr)
			require.Equal(t, "127.0.0.1:4002", o.GatewayAddr)
		}},
		{"flag over env over file", []string{"-config", file, "--admin-addr", "127.0.0.1:6001"},
			map[string]string{EnvAdminAddr: "127.0.0.1:5001"}, func(t *testing.T, o Options) {
				require.Equal(t, "127.0.0.1:6001", o.AdminAddr)
			}},
		{"no file", nil, nil, func(t *testing.T, o Options) {
			require.Empty(t, o.ConfigFile)
			require.Equal(t, DefaultAdminAddr, o.AdminAddr)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := Parse("serve", tc.args, env(tc.env), &bytes.Buffer{})
			require.NoError(t, err)
			tc.check(t, o)
		})
	}
}

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
		notShown   string
	}{
		{"unknown key", `{"admin_addr": "x"}`, []string{`unknown setting "admin_addr"`, "--config (FNMGR_CONFIG)"}, ""},
		{"not an object", `["a"]`, []string{"not a JSON object"}, ""},
		{"syntax", `{"couchdb-url": "http://u:hunter2hunter2@x", }`, []string{"syntax error at byte"}, "hunter2"},
		{"nested object", `{"log-level": {"x": 1}}`, []string{`"log-level"`, "must be a string"}, ""},
		{"list of numbers", `{"controllers": [1]}`, []string{"list of strings"}, ""},
		{"invalid value is validated", `{"log-format": "xml"}`, []string{"--log-format", "json or text"}, ""},
		{"config key", `{"config": "other.json"}`, []string{`unknown setting "config"`}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("serve", []string{"--config", writeFile(t, tc.body)}, env(nil), &bytes.Buffer{})
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			if tc.notShown != "" {
				require.NotContains(t, err.Error(), tc.notShown)
			}
		})
	}
	_, err := Parse("serve", []string{"--config", "/nonexistent/fnmgr.json"}, env(nil), &bytes.Buffer{})
	require.ErrorContains(t, err, "no such file")
}

func TestSettingsDocumented(t *testing.T) {
	ss := Settings()
	require.Len(t, ss, len(settings))
	for _, s := range ss {
		require.NotEmpty(t, s.Usage, s.Flag)
		require.Equal(t, s.Flag, s.Flag)
	}
	require.True(t, ss[2].Reloadable, "controllers reload on SIGHUP")
}

func TestFileHostengines(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		want       map[string]string
		err        string
	}{
		{"object", `{"dcgm-hostengines": {"invoker1": "10.0.0.6:5555", "invoker0": "10.0.0.5:5555"}}`,
			map[string]string{"invoker0": "10.0.0.5:5555", "invoker1": "10.0.0.6:5555"}, ""},
		{"list", `{"dcgm-hostengines": ["invoker0=10.0.0.5:5555"]}`, map[string]string{"invoker0": "10.0.0.5:5555"}, ""},
		{"no port", `{"dcgm-hostengines": {"invoker0": "10.0.0.5"}}`, nil, "node invoker0"},
		{"not strings", `{"dcgm-hostengines": {"invoker0": 5555}}`, nil, "must map names to strings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "fnmgr.json")
			require.NoError(t, os.WriteFile(path, []byte(tc.json), 0o600))
			o, err := Parse("fnmgr", []string{"--config", path}, func(string) string { return "" }, &bytes.Buffer{})
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, o.DCGMHostengines)
		})
	}
}
