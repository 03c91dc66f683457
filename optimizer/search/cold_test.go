package search

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// sized returns the observations of one size: a cold start whose run part
// is coldRun (after 150 ms of init), then warm runs.
func sized(m int, coldRun float64, warm ...float64) []Observation {
	obs := []Observation{{MemoryMB: m, Cold: true, InitMs: 150, DurationMs: 150 + coldRun, Outcome: OK}}
	for _, w := range warm {
		obs = append(obs, Observation{MemoryMB: m, DurationMs: w, Outcome: OK})
	}
	return obs
}

// searcherFrom is a searcher that has recorded obs, updated.
func searcherFrom(o Objective, obs ...[]Observation) *searcher {
	s := &searcher{cfg: Config{Candidates: []int{128}, Objective: o}.withDefaults(), pts: map[int]*pstate{}, sigma: priorCV}
	s.tol = s.cfg.Tolerance
	for _, os := range obs {
		for _, ob := range os {
			p := s.pts[ob.MemoryMB]
			if p == nil {
				p = &pstate{mem: ob.MemoryMB, feas: Unknown}
				s.pts[ob.MemoryMB] = p
				s.grid = append(s.grid, ob.MemoryMB)
			}
			s.recordLocked(p, ob)
		}
	}
	s.grid = uniq(sortedInts(s.grid))
	s.update()
	return s
}

func sortedInts(xs []int) []int {
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && xs[j] < xs[j-1]; j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
	return xs
}

// TestColdStartChecks: a lone warm run is doubted when the cold start of
// its own size, or cold starts compared across sizes, say it was slowed,
// and a slow verdict the cold start backs up needs no second run. The
// action: 950 ms from 1024 MB up, cold starts 1.3× slower.
func TestColdStartChecks(t *testing.T) {
	ref := sized(3072, 1240, 950, 955)
	flat := sized(1536, 1235, 948, 952)
	for _, tc := range []struct {
		name   string
		obs    [][]Observation
		doubt  int    // the size audit samples again (0: none)
		why    string // what it says
		size   int    // the lone-run size
		agrees bool   // whether its cold start backs up a slow verdict
	}{
		{"consistent: nothing to doubt, and the cold start backs up a slow size", [][]Observation{ref, flat, sized(576, 2040, 1575)}, 0, "", 576, true},
		{"slower warm than its own cold start", [][]Observation{ref, sized(640, 1860, 2900)}, 640, "slower than its cold start's run", 640, true},
		{"slower warm than the cold starts say", [][]Observation{ref, flat, sized(576, 2040, 2100)}, 576, "its cold start says", 576, true},
		{"near the threshold a cold start backs up nothing", [][]Observation{ref, flat, sized(960, 1304, 1003)}, 0, "", 960, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := searcherFrom(MinResources, tc.obs...)
			m, why := s.audit()
			require.Equal(t, tc.doubt, m, why)
			require.Contains(t, why, tc.why)
			require.Equal(t, tc.agrees, s.coldAgrees(tc.size))
		})
	}
}

// TestColdTimeouts: a size whose cold start timed out is ruled out when its
// warm time plus what a cold start adds at the other sizes exceeds the
// limit (every new container there would time out), and kept when that
// stays under it (a slow cold start, once).
func TestColdTimeouts(t *testing.T) {
	timedOut := func(m int, warm float64) []Observation {
		return []Observation{
			{MemoryMB: m, Cold: true, InitMs: 150, DurationMs: 150 + 3000, Outcome: Timeout, Message: "The action exceeded its time limits."},
			{MemoryMB: m, DurationMs: warm, Outcome: OK},
		}
	}
	for _, tc := range []struct {
		name string
		warm float64
		want Feasibility
	}{
		{"warm 2710 ms, about 3520 ms cold against 3000: ruled out", 2710, Infeasible},
		{"warm 2100 ms, about 2730 ms cold: a slow cold start", 2100, Feasible},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var obs []Observation
			for _, o := range [][]Observation{timedOut(320, tc.warm), sized(384, 2968, 2283), sized(640, 1859, 1430), sized(3072, 1235, 950, 952)} {
				obs = append(obs, o...)
			}
			pts := Points(obs, 0.05)
			require.Equal(t, 320, pts[0].MemoryMB)
			require.Equal(t, tc.want, pts[0].Feasibility, pts[0].Message)
			if tc.want == Infeasible {
				require.Equal(t, Timeout, pts[0].Failure)
				require.Contains(t, pts[0].Message, "cold starts time out")
			}
		})
	}
}
