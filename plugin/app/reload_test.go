package app

import (
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/plugin/config"
	"github.com/fnmgr/fnmgr/tests/logbuf"
)

// fakeControllers records the controller sets it is given; fail makes
// SetControllers fail.
type fakeControllers struct {
	got  [][]string
	fail bool
}

func (f *fakeControllers) SetControllers(urls []*url.URL) error {
	if f.fail {
		return errors.New("no controller answers")
	}
	var s []string
	for _, u := range urls {
		s = append(s, u.String())
	}
	f.got = append(f.got, s)
	return nil
}

// TestReloader: each case writes a configuration file, reloads, and checks
// what was applied, what was kept and what the log and metric say.
func TestReloader(t *testing.T) {
	for _, tc := range []struct {
		name        string
		file        string
		failSet     bool
		wantLevel   slog.Level
		wantCtrls   [][]string
		wantOutcome string
		wantLog     []string
	}{
		{name: "log level and controllers are applied; the rest needs a restart",
			file:      `{"log-level": "debug", "controllers": ["http://c1:3233", "http://c2:3233"], "retire-grace": "1h"}`,
			wantLevel: slog.LevelDebug, wantCtrls: [][]string{{"http://c1:3233", "http://c2:3233"}}, wantOutcome: "ok",
			wantLog: []string{`"applied":["controllers","log_level"]`, "these settings change only on a restart", `"retire_grace"`}},
		{name: "an invalid file changes nothing",
			file: `{"log-level": "loud", "controllers": ["http://c1:3233"]}`, wantLevel: slog.LevelInfo, wantOutcome: "invalid",
			wantLog: []string{"the configuration is invalid; keeping the running one"}},
		{name: "controllers the gateway refuses are kept as they run",
			file: `{"controllers": ["http://c9:3233"]}`, failSet: true, wantLevel: slog.LevelInfo, wantOutcome: "ok",
			wantLog: []string{"the controllers were not changed", `"applied":[]`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "fnmgr.json")
			require.NoError(t, os.WriteFile(file, []byte(`{"log-level": "info", "controllers": ["http://c0:3233"]}`), 0o600))
			args := []string{"--config", file}
			env := func(string) string { return "" }
			cur, err := config.Parse("fnmgr serve", args, env, nil)
			require.NoError(t, err)
			level := new(slog.LevelVar)
			logs := &logbuf.Buffer{}
			reg := prometheus.NewRegistry()
			ctrls := &fakeControllers{fail: tc.failSet}
			r, err := NewReloader(ReloaderOptions{Args: args, Getenv: env, Level: level, Controllers: ctrls, Current: cur,
				Logger: slog.New(slog.NewJSONHandler(logs, nil)), Registerer: reg})
			require.NoError(t, err)

			require.NoError(t, os.WriteFile(file, []byte(tc.file), 0o600))
			r.Reload()
			require.Equal(t, tc.wantLevel, level.Level())
			require.Equal(t, tc.wantCtrls, ctrls.got)
			require.Equal(t, 1.0, testutil.ToFloat64(r.metric.WithLabelValues(tc.wantOutcome)))
			for _, w := range tc.wantLog {
				require.Contains(t, logs.String(), w)
			}
		})
	}
}
