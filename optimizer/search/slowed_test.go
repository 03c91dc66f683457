package search_test

import (
	"context"
	"math"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/optimizer/search"
	"github.com/fnmgr/fnmgr/optimizer/sim"
)

// scripted is a noiseless action whose listed warm runs are slowed: the
// k-th warm run at size m (from 0) takes slow[m][k] times longer. Cold
// starts add 150 ms of init and run 1.3 times slower.
type scripted struct {
	t    func(m int) float64
	slow map[int]map[int]float64

	mu    sync.Mutex
	warm  map[int]int
	calls int
}

func (a *scripted) Probe(ctx context.Context, m, n int) ([]search.Observation, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []search.Observation
	for range n {
		a.calls++
		k, seen := a.warm[m]
		o := search.Observation{MemoryMB: m, Outcome: search.OK, DurationMs: math.Round(a.t(m))}
		if !seen {
			o.Cold, o.InitMs, o.DurationMs = true, 150, math.Round(150+1.3*a.t(m))
			a.warm[m] = 0
		} else {
			o.DurationMs = math.Round(a.t(m) * max(a.slow[m][k], 1))
			a.warm[m] = k + 1
		}
		out = append(out, o)
	}
	return out, nil
}

// TestRunSlowedRuns: runs slowed 1.3 to 3 times (a noisy neighbour, CPU
// throttling) where they do most harm: two of the reference's first three,
// the floor's only warm run, the first warm run at every size. The search
// samples again until the clean runs have the majority, and still decides
// right within 15 invocations.
func TestRunSlowedRuns(t *testing.T) {
	cpu := func(m int) float64 { return 150 + 800*1024/math.Min(float64(m), 1024) }
	every := map[int]map[int]float64{}
	for _, m := range sim.Grid(128, 3072) {
		every[m] = map[int]float64{0: 1.8}
	}
	for _, tc := range []struct {
		name string
		slow map[int]map[int]float64
	}{
		{"none", nil},
		{"two of the reference's first three runs", map[int]map[int]float64{3072: {0: 2.0, 2: 2.9}}},
		{"the floor's only warm run", map[int]map[int]float64{128: {0: 2.5}}},
		{"the first warm run at every size", every},
	} {
		for _, o := range []search.Objective{search.MinResources, search.Balanced} {
			t.Run(tc.name+"/"+string(o), func(t *testing.T) {
				a := &scripted{t: cpu, slow: tc.slow, warm: map[int]int{}}
				res, err := search.Run(context.Background(), a, search.Config{Candidates: sim.Grid(128, 3072), Objective: o})
				require.NoError(t, err)
				require.Contains(t, []int{960, 1024}, res.Decision.MemoryMB, "%s\n%+v", res.Decision.Why, res.Steps)
				require.LessOrEqual(t, a.calls, 15)
			})
		}
	}
}
