// Package monitoring checks fnmgr's Grafana dashboard and Prometheus
// alerting rules (deploy/helm/fnmgr/files) against a real Prometheus
// (Debian's, from `make deps`) scraping a running fnmgr of the local
// stack: promtool accepts the rules, Prometheus loads them, every
// dashboard query returns series and every metric an alert reads exists.
package monitoring

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/fnmgr/fnmgr/deploy/local/stack"
	"github.com/fnmgr/fnmgr/tests/stackenv"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

var env *stackenv.Env

func TestMain(m *testing.M) { os.Exit(stackenv.Run(m, stackenv.Options{}, &env)) }

const (
	rulesFile     = "../../deploy/helm/fnmgr/files/fnmgr-rules.yaml"
	dashboardFile = "../../deploy/helm/fnmgr/files/fnmgr-dashboard.json"
)

// tool finds a Debian tool; under CI a missing one fails the test.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := stack.FindTool(name, "FNMGR_"+strings.ToUpper(name))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return p
}

func TestPromtoolChecksRules(t *testing.T) {
	out, err := exec.Command(tool(t, "promtool"), "check", "rules", rulesFile).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "SUCCESS")
}

// prom is a Prometheus the test started.
type prom struct{ url string }

func startPrometheus(t *testing.T, target string) prom {
	t.Helper()
	bin := tool(t, "prometheus")
	dir := t.TempDir()
	rules, err := filepath.Abs(rulesFile)
	require.NoError(t, err)
	cfg := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [%q]\n"+
		"scrape_configs:\n  - job_name: fnmgr\n    static_configs: [{targets: [%q]}]\n", rules, target)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600))
	addr := testkit.ClosedAddr(t)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", b)
		}
	})
	return prom{url: "http://" + addr}
}

// query runs an instant query and returns its result, failing t when
// Prometheus refuses the expression.
func (p prom) query(t *testing.T, expr string) []json.RawMessage {
	t.Helper()
	res, err := p.tryQuery(expr)
	require.NoError(t, err)
	return res
}

func (p prom) tryQuery(expr string) ([]json.RawMessage, error) {
	resp, err := http.Get(p.url + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status, Error string
		Data          struct{ Result []json.RawMessage }
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", expr, r.Error)
	}
	return r.Data.Result, nil
}

// traffic gives fnmgr something to measure: an action, calls through the
// gateway, a lifecycle transition.
func traffic(t *testing.T, e *stackenv.Env) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"exec": map[string]any{"kind": "nodejs:default", "code": "function main(){ return {ok: true} }"}})
	st, b := e.Call(t, e.EP.Auth, http.MethodPut, e.EP.APIHost, "/api/v1/namespaces/_/actions/monitored?overwrite=true", body)
	require.Equal(t, http.StatusOK, st, "%s", b)
	e.WaitFn(t, "guest", "monitored", 10*time.Second, func(f stackenv.Function) bool { return f.Head.Revision == 1 })
	for range 5 {
		st, b := e.Call(t, e.EP.Auth, http.MethodPost, e.EP.Gateway, "/api/v1/namespaces/_/actions/monitored?blocking=true&result=true", []byte("{}"))
		require.Equal(t, http.StatusOK, st, "%s", b)
	}
	require.Equal(t, http.StatusOK, e.Admin(t, stackenv.AsAdmin, http.MethodPost, stackenv.FnPath("guest", "monitored")+"/block", map[string]any{"reason": "test"}, nil))
}

var metricName = regexp.MustCompile(`\bfnmgr_[a-z_]+`)

func TestDashboardAndRulesAgainstPrometheus(t *testing.T) {
	e := stackenv.Need(t, env)
	traffic(t, e)
	u, err := url.Parse(e.EP.Admin)
	require.NoError(t, err)
	p := startPrometheus(t, u.Host)
	// A few scrapes, so that rate() over them has samples.
	require.Eventually(t, func() bool {
		r, err := p.tryQuery(`count_over_time(up{job="fnmgr"}[1m]) >= 3 and up{job="fnmgr"} == 1`)
		return err == nil && len(r) == 1
	}, 60*time.Second, 200*time.Millisecond)

	t.Run("dashboard queries return series", func(t *testing.T) {
		raw, err := os.ReadFile(dashboardFile)
		require.NoError(t, err)
		var d struct {
			Panels []struct {
				Title   string
				Targets []struct{ Expr string }
			}
		}
		require.NoError(t, json.Unmarshal(raw, &d))
		require.NotEmpty(t, d.Panels)
		for _, panel := range d.Panels {
			require.NotEmpty(t, panel.Targets, panel.Title)
			for _, tg := range panel.Targets {
				require.NotEmpty(t, p.query(t, tg.Expr), "panel %q: %s returns no series", panel.Title, tg.Expr)
			}
		}
	})

	t.Run("alert expressions parse and read metrics fnmgr exposes", func(t *testing.T) {
		raw, err := os.ReadFile(rulesFile)
		require.NoError(t, err)
		var f struct {
			Groups []struct {
				Rules []struct{ Alert, Expr string }
			}
		}
		require.NoError(t, yaml.Unmarshal(raw, &f))
		n := 0
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				n++
				p.query(t, r.Expr) // fails on an expression Prometheus refuses
				for _, m := range metricName.FindAllString(r.Expr, -1) {
					require.NotEmpty(t, p.query(t, m), "alert %s reads %s, which has no series", r.Alert, m)
				}
			}
		}
		require.Equal(t, 9, n)
	})

	t.Run("Prometheus loaded every rule and evaluates it without error", func(t *testing.T) {
		require.Eventually(t, func() bool {
			resp, err := http.Get(p.url + "/api/v1/rules")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			var r struct {
				Data struct {
					Groups []struct {
						Rules []struct {
							Name, Health, LastError string
							LastEvaluation          time.Time
						}
					}
				}
			}
			if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data.Groups) != 1 {
				return false
			}
			for _, rl := range r.Data.Groups[0].Rules {
				if rl.Health != "ok" {
					t.Logf("rule %s: %s %s", rl.Name, rl.Health, rl.LastError)
					return false
				}
			}
			return len(r.Data.Groups[0].Rules) == 9
		}, 30*time.Second, 200*time.Millisecond)
	})
}
