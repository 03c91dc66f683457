package cli_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOptimize starts the pre-optimizer through the CLI. Where this fnmgr
// build has no optimizer yet (the endpoints answer 501), the CLI must say
// so plainly; otherwise it follows the run to its result table.
func TestOptimize(t *testing.T) {
	f := newFixture(t)
	const name = "cli-optimize"
	// A few milliseconds of work: OpenWhisk's durations are whole
	// milliseconds, and a sum of 1000 numbers measured 0 ms.
	f.create(t, name, "function main(p) { let s = 0; for (let i = 0; i < 3000000; i++) s += i; return {s} }")
	f.seen(t, name)
	// MAX_MEMORY comes from the invokers' health pings: right after the
	// stack starts, the first may not have arrived yet.
	var r result
	require.Eventually(t, func() bool {
		r = f.run(t, nil, "optimize", name, "--payload", `{"n":1}`, "--memory", "128,256", "--max-invocations", "6", "--poll", "100ms")
		return !strings.Contains(r.errOut, "MAX_MEMORY is unknown")
	}, 10*time.Second, 200*time.Millisecond)
	if r.code != 0 && strings.Contains(r.errOut, "optimizations") && strings.Contains(r.errOut, "not implemented") {
		require.Equal(t, 1, r.code)
		require.Regexp(t, `^error: POST /v1/namespaces/\{ns\}/functions/\{fn\}/optimizations is not implemented yet in this fnmgr build\. \(code \w+\)\n$`, r.errOut)
		t.Log("the optimizer endpoints answer 501 in this build; checked that the CLI reports it")
		return
	}
	require.Equal(t, 0, r.code, "stdout: %s\nstderr: %s", r.out, r.errOut)
	t.Log(r.out)
	// The summary a person reads at a glance, then the table of sizes.
	require.Regexp(t, `^optimization \w+ of cli-optimize: succeeded\n`, r.out)
	require.Regexp(t, `(?m)^recommended: +(128|256) MB`, r.out)
	require.Regexp(t, `(?m)^time: +([+-]\d+|±0)% \(\d+(\.\d)? ms → \d+(\.\d)? ms per invocation\)`, r.out)
	require.Regexp(t, `(?m)^cost: +([+-]\d+|±0)% \(`, r.out)
	require.Regexp(t, `(?m)^confidence: +\S`, r.out)
	require.Regexp(t, `(?m)^invocations: +\d+ of 6 \(`, r.out)
	require.Regexp(t, `(?m)^chart: +`+regexp.QuoteMeta(f.env.Admin)+`/v1/namespaces/\S+/functions/cli-optimize/optimizations/\w+/chart\.svg$`, r.out)
	require.Regexp(t, `(?m)^MEMORY +RESULT +RUNS \(COLD\+WARM\) +MEDIAN +95% RANGE +GB-S/INVOCATION`, r.out)
	require.Regexp(t, `(?m)^128 MB +\S+`, r.out)
	require.Regexp(t, `(?m)^256 MB +\S+`, r.out)
	require.NotRegexp(t, `\.0*[1-9]\d{3,}`, r.out, "numbers are rounded to 3 significant digits")
	require.NotContains(t, r.out, "see --json")

	// --json keeps everything: the whole report.
	id := regexp.MustCompile(`^optimization (\w+) of`).FindStringSubmatch(r.out)[1]
	j := f.run(t, nil, "optimize", name, "--status", id, "--json")
	require.Equal(t, 0, j.code, j.errOut)
	var run struct {
		Status string `json:"status"`
		Report struct {
			Active struct {
				Points []struct {
					Stats struct {
						MedianMs float64 `json:"medianMs"`
					} `json:"stats"`
				} `json:"points"`
			} `json:"active"`
		} `json:"report"`
	}
	require.NoError(t, json.Unmarshal([]byte(j.out), &run))
	require.Equal(t, "succeeded", run.Status)
	require.NotEmpty(t, run.Report.Active.Points)

	// optimize list: the function's runs, newest first.
	l := f.run(t, nil, "optimize", "list", name)
	require.Equal(t, 0, l.code, l.errOut)
	require.Regexp(t, `(?m)^ID +STARTED +STATUS +OBJECTIVE +RECOMMENDED +COST +BY`, l.out)
	require.Regexp(t, `(?m)^`+id+` +.* succeeded +\S+ +(128|256) MB`, l.out)
}
