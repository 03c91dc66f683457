package config

import (
	"bytes"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	o, err := Parse("serve", nil, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:3235", o.AdminAddr)
	require.Equal(t, "127.0.0.1:3234", o.GatewayAddr)
	require.Len(t, o.Controllers, 1)
	require.Equal(t, "http://127.0.0.1:3233", o.Controllers[0].String())
	require.Equal(t, "http://127.0.0.1:5984", o.CouchURL.String())
	require.Equal(t, "whisk_local_", o.OWDBPrefix)
	require.Equal(t, "whisk_local_subjects", o.SubjectsDB())
	require.Equal(t, "fnmgr_", o.DBPrefix)
	require.Equal(t, []string{"127.0.0.1:9092"}, o.KafkaBrokers)
	require.Empty(t, o.AdminToken)
	require.Equal(t, slog.LevelInfo, o.LogLevel)
	require.Equal(t, "json", o.LogFormat)
	require.Equal(t, DefaultShutdownTimeout, o.ShutdownTimeout)
	require.False(t, o.GatewayFailOpen, "the gateway must fail closed unless an operator chooses otherwise")
	require.Equal(t, 25*time.Second, o.KeyCacheTTL)
	require.Equal(t, o, Default())
}

func TestSources(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("file-token-0123456789\n"), 0o600))
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, o Options)
	}{
		{"env", nil, map[string]string{
			EnvAdminAddr: "127.0.0.1:0", EnvControllers: "http://127.0.0.1:1, http://127.0.0.1:2/",
			EnvKafkaBrokers: "127.0.0.1:9092,127.0.0.1:9093", EnvLogLevel: "DEBUG", EnvLogFormat: "text",
			EnvAdminToken: "env-token-0123456789", EnvShutdownTimeout: "3s", EnvOWDBPrefix: "test_",
		}, func(t *testing.T, o Options) {
			require.Equal(t, "127.0.0.1:0", o.AdminAddr)
			require.Len(t, o.Controllers, 2)
			require.Equal(t, "http://127.0.0.1:2", o.Controllers[1].String(), "trailing slash trimmed")
			require.Equal(t, []string{"127.0.0.1:9092", "127.0.0.1:9093"}, o.KafkaBrokers)
			require.Equal(t, slog.LevelDebug, o.LogLevel)
			require.Equal(t, "text", o.LogFormat)
			require.Equal(t, "env-token-0123456789", o.AdminToken)
			require.Equal(t, 3*time.Second, o.ShutdownTimeout)
			require.Equal(t, "test_subjects", o.SubjectsDB())
		}},
		{"flag wins over env", []string{"--" + FlagAdminAddr, "127.0.0.1:4000", "-" + FlagAdminToken, "flag-token-0123456789"},
			map[string]string{EnvAdminAddr: "127.0.0.1:5000", EnvAdminToken: "env-token-0123456789"},
			func(t *testing.T, o Options) {
				require.Equal(t, "127.0.0.1:4000", o.AdminAddr)
				require.Equal(t, "flag-token-0123456789", o.AdminToken)
			}},
		{"token file", []string{"--" + FlagAdminTokenFile, tokenFile}, nil, func(t *testing.T, o Options) {
			require.Equal(t, "file-token-0123456789", o.AdminToken)
		}},
		{"couch credentials", nil, map[string]string{EnvCouchURL: "http://whisk_admin:some_passw0rd@127.0.0.1:5984/"},
			func(t *testing.T, o Options) {
				p, _ := o.CouchURL.User.Password()
				require.Equal(t, "some_passw0rd", p)
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

func TestValidationErrors(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(tokenFile, nil, 0o600))
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		want     []string // substrings of the error
		notShown string   // a secret the error must not show
	}{
		{"bad admin addr", []string{"--admin-addr", "localhost"}, nil, []string{"--admin-addr (FNMGR_ADMIN_ADDR)", "not host:port"}, ""},
		{"port out of range", []string{"--gateway-addr", "127.0.0.1:70000"}, nil, []string{"--gateway-addr", "0-65535"}, ""},
		{"same ports", []string{"--admin-addr", "127.0.0.1:4000", "--gateway-addr", "127.0.0.1:4000"}, nil, []string{"different ports"}, ""},
		{"no controllers", []string{"--controllers", " , "}, nil, []string{"--controllers", "at least one"}, ""},
		{"controller scheme", []string{"--controllers", "ftp://x"}, nil, []string{"--controllers", "http or https"}, ""},
		{"couch URL with password", nil, map[string]string{EnvCouchURL: "couch://u:hunter2hunter2@x"}, []string{"--couchdb-url (FNMGR_COUCHDB_URL)", "scheme"}, "hunter2hunter2"},
		{"prefix", []string{"--ow-db-prefix", "Whisk"}, nil, []string{"--ow-db-prefix", "prefix"}, ""},
		{"same prefixes", []string{"--db-prefix", "whisk_local_"}, nil, []string{"must not mix"}, ""},
		{"broker", []string{"--kafka-brokers", "127.0.0.1"}, nil, []string{"--kafka-brokers", "host:port"}, ""},
		{"short token", nil, map[string]string{EnvAdminToken: "shorty"}, []string{"--admin-token (FNMGR_ADMIN_TOKEN)", "at least 16"}, "shorty"},
		{"token and file", []string{"--admin-token-file", tokenFile}, map[string]string{EnvAdminToken: "env-token-0123456789"}, []string{"not both"}, "env-token"},
		{"empty token file", []string{"--admin-token-file", tokenFile}, nil, []string{"is empty"}, ""},
		{"missing token file", []string{"--admin-token-file", "/nonexistent/token"}, nil, []string{"--admin-token-file", "no such file"}, ""},
		{"log level", []string{"--log-level", "loud"}, nil, []string{"--log-level", "debug, info, warn, error"}, ""},
		{"log format", []string{"--log-format", "xml"}, nil, []string{"--log-format", "json or text"}, ""},
		{"duration", []string{"--shutdown-timeout", "soon"}, nil, []string{"--shutdown-timeout", "duration"}, ""},
		{"negative duration", []string{"--shutdown-timeout", "-1s"}, nil, []string{"--shutdown-timeout", "positive"}, ""},
		{"fail-open not a bool", nil, map[string]string{EnvGatewayFailOpen: "maybe"}, []string{"--gateway-fail-open (FNMGR_GATEWAY_FAIL_OPEN)", "true or false"}, ""},
		{"key cache past 25s", []string{"--key-cache-ttl", "30s"}, nil, []string{"--key-cache-ttl", "within 30s"}, ""},
		{"key cache not a duration", []string{"--key-cache-ttl", "soon"}, nil, []string{"--key-cache-ttl", "duration"}, ""},
		{"stray argument", []string{"extra"}, nil, []string{`unexpected argument "extra"`}, ""},
		{"several at once", []string{"--log-format", "xml", "--log-level", "loud"}, nil, []string{"--log-format", "--log-level"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("serve", tc.args, env(tc.env), &bytes.Buffer{})
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			if tc.notShown != "" {
				require.NotContains(t, err.Error(), tc.notShown)
			}
		})
	}
}

func TestHelpHidesSecrets(t *testing.T) {
	var out bytes.Buffer
	_, err := Parse("fnmgr serve", []string{"-h"}, env(map[string]string{
		EnvAdminToken: "env-token-0123456789",
		EnvCouchURL:   "http://u:hunter2hunter2@127.0.0.1:5984",
	}), &out)
	require.True(t, errors.Is(err, flag.ErrHelp))
	help := out.String()
	for _, s := range settings {
		require.Contains(t, help, "-"+s.flag)
		require.Contains(t, help, s.env)
	}
	require.NotContains(t, help, "env-token")
	require.NotContains(t, help, "hunter2")
	require.True(t, strings.HasPrefix(help, "Usage: fnmgr serve"))
}

func TestLogValueRedacts(t *testing.T) {
	o, err := Parse("serve", nil, env(map[string]string{
		EnvAdminToken: "env-token-0123456789",
		EnvCouchURL:   "http://u:hunter2hunter2@127.0.0.1:5984",
	}), &bytes.Buffer{})
	require.NoError(t, err)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", o)
	require.NotContains(t, buf.String(), "hunter2")
	require.NotContains(t, buf.String(), "env-token")
	require.Contains(t, buf.String(), `"couchdb_url":"http://127.0.0.1:5984"`)
	require.Contains(t, buf.String(), `"admin_token":"set"`)
}
