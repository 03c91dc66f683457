package optimizerstack

import (
	"encoding/json"
	"math"
	"os"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/optimizer/probe"
)

// TestMeasureNoise (OPT_MEASURE_NOISE=1) invokes a CPU-bound and a
// sleeping action at a few sizes and prints the spread of warm durations:
// how the simulated suite's noise was calibrated.
func TestMeasureNoise(t *testing.T) {
	if os.Getenv("OPT_MEASURE_NOISE") == "" {
		t.Skip("set OPT_MEASURE_NOISE=1 to measure")
	}
	e := newEnv(t)
	for _, a := range []struct{ name, code string }{
		{"noise-cpu", cpuCode},
		{"noise-sleep", sleepCode},
	} {
		e.action(a.name, a.code, 256, 60000)
		copies, err := probe.NewCopies(e.ctx, e.actions, "guest", a.name, "noise")
		require.NoError(t, err)
		for _, mem := range []int{256, 512, 1024, 2048} {
			path, err := copies.Ensure(e.ctx, probe.Limits{MemoryMB: mem})
			require.NoError(t, err)
			var ds []float64
			for i := 0; i < 12; i++ {
				act, err := e.invoker.Invoke(e.ctx, "guest", path, json.RawMessage(`{"n": 3000000}`))
				require.NoError(t, err)
				if i > 0 {
					ds = append(ds, act.DurationMs)
				}
			}
			sort.Float64s(ds)
			var logs []float64
			for _, d := range ds {
				logs = append(logs, math.Log(d))
			}
			mean := 0.0
			for _, l := range logs {
				mean += l
			}
			mean /= float64(len(logs))
			sd := 0.0
			for _, l := range logs {
				sd += (l - mean) * (l - mean)
			}
			sd = math.Sqrt(sd / float64(len(logs)-1))
			t.Logf("%s %4d MB: median %.0f ms, log-sd %.3f, min %.0f max %.0f", a.name, mem, ds[len(ds)/2], sd, ds[0], ds[len(ds)-1])
		}
		require.NoError(t, copies.Remove(e.ctx))
	}
}

// cpuCode burns CPU: n iterations of a small hash loop.
const cpuCode = `function main(p) {
  const n = p.n || 300000;
  let h = 0;
  for (let i = 0; i < n * 10; i++) { h = (h * 31 + i) % 1000003; }
  return {h};
}`

// sleepCode waits 200 ms (I/O bound).
const sleepCode = `function main(p) {
  return new Promise(r => setTimeout(() => r({slept: 200}), 200));
}`
