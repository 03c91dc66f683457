package stackenv

import (
	"bufio"
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Metric sums fnmgr's series of metric name (from GET /metrics) whose
// labels include every label="value" of match ("outcome=ok").
func (e *Env) Metric(t testing.TB, name string, match ...string) float64 {
	t.Helper()
	status, body := e.Call(t, AsNone, "GET", e.EP.Admin, "/metrics", nil)
	require.Equal(t, http.StatusOK, status)
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		series, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		labels := ""
		if i := strings.IndexByte(series, '{'); i >= 0 {
			series, labels = series[:i], series[i:]
		}
		if series != name {
			continue
		}
		all := true
		for _, m := range match {
			k, v, _ := strings.Cut(m, "=")
			all = all && strings.Contains(labels, k+`="`+v+`"`)
		}
		if !all {
			continue
		}
		f, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
		require.NoError(t, err, line)
		sum += f
	}
	return sum
}
