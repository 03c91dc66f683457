package cli_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCheck runs `fnmgr check` against the stack: every dependency answers;
// a wrong prefix, an unreachable broker and controller fail with fixes.
func TestCheck(t *testing.T) {
	f := newFixture(t)
	good := map[string]string{
		"FNMGR_COUCHDB_URL":   f.env.CouchDB,
		"FNMGR_OW_DB_PREFIX":  "whisk_local_",
		"FNMGR_KAFKA_BROKERS": strings.Join(f.env.Kafka, ","),
		"FNMGR_CONTROLLERS":   f.env.APIHost,
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name     string
		vars     map[string]string
		wantCode int
		want     []string
	}{
		{"all good", good, 0, []string{"ok    couchdb", "whisk_local_whisks", "kafka topic", "health", "controller", "ok: all"}},
		{"wrong prefix", with("FNMGR_OW_DB_PREFIX", "test_"), 1, []string{"FAIL", "test_whisks: does not exist", "fix: ", "--ow-db-prefix"}},
		{"kafka down", with("FNMGR_KAFKA_BROKERS", "127.0.0.1:1"), 1, []string{"FAIL  kafka", "--kafka-brokers (FNMGR_KAFKA_BROKERS)"}},
		{"controller down", with("FNMGR_CONTROLLERS", "http://127.0.0.1:1"), 1, []string{"FAIL", "controller", "does not answer"}},
		{"couchdb down", with("FNMGR_COUCHDB_URL", "http://u:hunter2hunter2@127.0.0.1:1"), 1, []string{"FAIL  couchdb", "--couchdb-url (FNMGR_COUCHDB_URL)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.run(t, tc.vars, "check")
			require.Equal(t, tc.wantCode, r.code, "stdout: %s\nstderr: %s", r.out, r.errOut)
			for _, w := range tc.want {
				require.Contains(t, r.out, w)
			}
			require.NotContains(t, r.out+r.errOut, "hunter2")
			if tc.wantCode != 0 {
				require.Contains(t, r.errOut, "error: check: ")
			}
		})
	}
	t.Run("invalid configuration", func(t *testing.T) {
		r := f.run(t, with("FNMGR_LOG_LEVEL", "loud"), "check")
		require.Equal(t, 1, r.code)
		require.Contains(t, r.errOut, "error: invalid configuration: config: --log-level (FNMGR_LOG_LEVEL)")
	})
}
