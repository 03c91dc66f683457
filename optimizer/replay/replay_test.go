package replay

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/optimizer/search"
)

const sharedCurves = "testdata/curves"

// TestLoadSharedCurves: every curve file beside the tests parses, with at
// least two sizes ascending and a positive duration at each, and no file
// is left out.
func TestLoadSharedCurves(t *testing.T) {
	cs, err := Load(sharedCurves)
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(sharedCurves, "*.json"))
	require.NoError(t, err)
	require.Len(t, cs, len(files))
	require.Len(t, cs, 36, "the 36 shared curves")
	for _, c := range cs {
		require.GreaterOrEqual(t, len(c.Points), 2, c.File)
		require.NotEmpty(t, c.Source, c.File)
		for i, p := range c.Points {
			if i > 0 {
				require.Greater(t, p.MemoryMB, c.Points[i-1].MemoryMB, c.File)
			}
			require.NotEmpty(t, p.Durations, "%s %d MB", c.File, p.MemoryMB)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		want  []Point
		fn    string
		error string
	}{
		{"the spec's format, other keys ignored",
			`{"function":"f","unit":"ms","platform":"x","points":[{"memoryMB":256,"durations":[2,3],"extra":1},{"memoryMB":128,"durations":[5]}]}`,
			[]Point{{128, []float64{5}}, {256, []float64{2, 3}}}, "f", ""},
		{"seconds", `{"unit":"s","points":[{"memoryMB":128,"durations":[0.5]}]}`, []Point{{128, []float64{500}}}, "x", ""},
		{"microseconds, memory spelled memory", `{"unit":"us","points":[{"memory":128,"durations":[1500]}]}`, []Point{{128, []float64{1.5}}}, "x", ""},
		{"AWS Lambda Power Tuning's stats", `{"stats":[{"power":128,"cost":1e-7,"duration":20.5},{"power":512,"cost":2e-7,"duration":6.1}]}`,
			[]Point{{128, []float64{20.5}}, {512, []float64{6.1}}}, "x", ""},
		{"Power Tuning's executor stats", `{"stats":[{"value":256,"averagePrice":1e-7,"averageDuration":12.5,"totalCost":1e-6}]}`,
			[]Point{{256, []float64{12.5}}}, "x", ""},
		{"not JSON", `{`, nil, "", "x.json: unexpected end"},
		{"no points", `{"function":"f"}`, nil, "", "no points"},
		{"no memory", `{"points":[{"durations":[1]}]}`, nil, "", "point 0 has no memory size"},
		{"fractional memory", `{"points":[{"memoryMB":128.5,"durations":[1]}]}`, nil, "", "point 0 has no memory size"},
		{"a size twice", `{"points":[{"memoryMB":128,"durations":[1]},{"memoryMB":128,"durations":[2]}]}`, nil, "", "128 MB appears twice"},
		{"no durations", `{"points":[{"memoryMB":128,"durations":[]}]}`, nil, "", "128 MB has no durations"},
		{"zero duration", `{"points":[{"memoryMB":128,"durations":[0]}]}`, nil, "", "not positive"},
		{"unknown unit", `{"unit":"min","points":[{"memoryMB":128,"durations":[1]}]}`, nil, "", `unknown unit "min"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("x.json", []byte(tc.in))
			if tc.error != "" {
				require.ErrorContains(t, err, tc.error)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, c.Points)
			require.Equal(t, tc.fn, c.Function)
		})
	}
}

// TestProber: an invocation returns one of the recorded durations, the
// first at a size cold; a size with fewer than three gets noise around
// them; a size off the curve is an error; one seed, one sequence.
func TestProber(t *testing.T) {
	c := Curve{File: "c.json", Points: []Point{{128, []float64{100}}, {256, []float64{10, 20, 30}}}}
	ctx := context.Background()
	p := NewProber(c, 0.05, 9)
	obs, err := p.Probe(ctx, 256, 40)
	require.NoError(t, err)
	require.Len(t, obs, 40)
	require.True(t, obs[0].Cold)
	seen := map[float64]bool{}
	for i, o := range obs {
		require.Equal(t, i == 0, o.Cold)
		require.Equal(t, search.OK, o.Outcome)
		require.Contains(t, []float64{10, 20, 30}, o.DurationMs)
		seen[o.DurationMs] = true
	}
	require.Len(t, seen, 3, "every recorded duration is drawn")
	obs, err = p.Probe(ctx, 256, 1)
	require.NoError(t, err)
	require.False(t, obs[0].Cold, "the size was probed before")
	obs, err = p.Probe(ctx, 128, 200)
	require.NoError(t, err)
	var logs []float64
	for _, o := range obs {
		logs = append(logs, math.Log(o.DurationMs/100))
	}
	require.InDelta(t, 0, mean(logs), 0.02)
	require.InDelta(t, 0.05, stddev(logs), 0.01, "log-normal noise of --noise")
	_, err = p.Probe(ctx, 512, 1)
	require.ErrorContains(t, err, "no measurements at 512 MB")
	require.Equal(t, 241, p.Invocations())

	a, _ := NewProber(c, 0.05, 3).Probe(ctx, 128, 5)
	b, _ := NewProber(c, 0.05, 3).Probe(ctx, 128, 5)
	require.Equal(t, a, b)
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func stddev(xs []float64) float64 {
	m, s := mean(xs), 0.0
	for _, x := range xs {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(len(xs)-1))
}

// TestTruthFromMedians: the truth of a curve is its medians (score's
// tests judge choices against a truth).
func TestTruthFromMedians(t *testing.T) {
	// Medians: 128: 1000 ms (cost 128000), 256: 480 (122880), 512: 250
	// (128000), 1024: 240 (245760).
	c := Curve{Points: []Point{{128, []float64{900, 1000, 1100}}, {256, []float64{480}}, {512, []float64{240, 260}}, {1024, []float64{240}}}}
	tr := NewTruth(c, 0.05)
	for m, want := range map[int]float64{128: 1000, 256: 480, 512: 250, 1024: 240} {
		require.Equal(t, want, tr.MedianMs(m), "%d MB", m)
	}
	require.Equal(t, 256, tr.Best(search.Cost))
	require.Equal(t, 512, tr.Best(search.MinResources), "250 ms is within 5% of 240 ms")
	ok, regret := tr.Judge(search.Cost, 128)
	require.True(t, ok)
	require.InDelta(t, 128000.0/122880-1, regret, 1e-9)
}

func TestGridSizes(t *testing.T) {
	sizes := []int{128, 256, 384, 512, 640, 768, 896, 1024}
	require.Equal(t, sizes, GridSizes(sizes, 15))
	require.Equal(t, sizes, GridSizes(sizes, 8))
	require.Equal(t, []int{128, 640, 1024}, GridSizes(sizes, 3))
	require.Equal(t, []int{1024}, GridSizes(sizes, 1))
}

// floors are the shares of (curve, trial) pairs within 5% that the
// search must reach on the shared curves, for every seed of
// TestReplaySuite: four to six points under the lowest of seeds 11, 22,
// 33 and 44 (20 trials each; docs/optimizer.md has the table), so a
// regression shows and a seed's luck does not. "all" is every curve.
var floors = map[search.Objective]map[string]float64{
	search.Cost:         {"all": 0.77, "sebs": 0.80, "mbwilding": 0.92},
	search.MinResources: {"all": 0.55, "sebs": 0.70, "mbwilding": 0.58},
	search.Balanced:     {"all": 0.58, "sebs": 0.72, "mbwilding": 0.60},
}

// TestReplaySuite replays the search on the shared curves for cost and
// min-resources with three seeds (balanced with one), beside the Power Tuning-style grids of 15
// and 60 invocations scored by the same Judge, and checks the floors, the
// budget, and that every trial chose a size on the curve.
func TestReplaySuite(t *testing.T) {
	cs, err := Load(sharedCurves)
	require.NoError(t, err)
	var b strings.Builder
	for _, o := range []search.Objective{search.Cost, search.MinResources, search.Balanced} {
		seeds := []uint64{11, 22, 33}
		if o == search.Balanced {
			seeds = seeds[:1] // not an objective of SPEC.md section 7: one seed keeps make test short
		}
		for _, seed := range seeds {
			opts := Options{Objective: o, Trials: 20, Seed: seed}
			trials, cmp, err := Evaluate(context.Background(), cs, opts, 2, SourceGroup)
			require.NoError(t, err)
			WriteComparisons(&b, fmt.Sprintf("%s (seed %d)", o, seed), cmp)
			for _, ts := range trials {
				for _, tr := range ts {
					require.LessOrEqual(t, tr.Invocations, 15, "%s trial %d", tr.File, tr.Trial)
					require.NotZero(t, tr.MemoryMB, "%s trial %d chose nothing", tr.File, tr.Trial)
				}
			}
			for _, c := range cmp {
				if f, ok := floors[o][c.Group]; ok {
					require.GreaterOrEqual(t, c.Search.Share, f, "%s seed %d %s", o, seed, c.Group)
				}
			}
		}
	}
	t.Log("\n" + b.String())
}

// TestGridScoredLikeTheSearch: Compare's grid shares are Grid's choices
// judged by the same Truth.Judge as the search's, on the same trial
// seeds; recounted here over two curves.
func TestGridScoredLikeTheSearch(t *testing.T) {
	cs, err := Load(sharedCurves)
	require.NoError(t, err)
	cs = []Curve{cs[0], cs[len(cs)-1]}
	opts := Options{Objective: search.Cost, Trials: 10, Seed: 4}.withDefaults()
	trials, err := Run(context.Background(), cs, opts, 1)
	require.NoError(t, err)
	cmp := Compare(cs, trials, opts, func(Curve) string { return "g" })
	require.Len(t, cmp, 2)
	var s, g15, g60 int
	for ci, c := range cs {
		tr := NewTruth(c, opts.Tolerance)
		for _, x := range trials[ci] {
			if ok, _ := tr.Judge(opts.Objective, x.MemoryMB); ok {
				s++
			}
			seed := trialSeed(opts.Seed, x.Trial)
			if ok, _ := tr.Judge(opts.Objective, Grid(c, opts.Objective, opts.Tolerance, 15, opts.Noise, seed)); ok {
				g15++
			}
			if ok, _ := tr.Judge(opts.Objective, Grid(c, opts.Objective, opts.Tolerance, 60, opts.Noise, seed)); ok {
				g60++
			}
		}
	}
	all := cmp[1]
	require.Equal(t, "all", all.Group)
	require.Equal(t, 20, all.Search.Pairs)
	require.Equal(t, s, all.Search.Within)
	require.Equal(t, g15, all.Grid.Within)
	require.Equal(t, g60, all.GridBig.Within)
}

// TestStableAnswers: many seeds on one curve choose within one candidate
// step of each other (of the most frequent choice), or the search flags
// the choice as uncertain with a range that holds it. For cost, in at
// least 90% of trials on every shared curve except MemFigLess's (2-3
// samples per size at 1-ms resolution of 3-5 ms runs); for min-resources
// in 90% over those curves together and 80% on each (a few slow declines
// and non-monotonic curves are at 83-89%: docs/optimizer.md lists them).
func TestStableAnswers(t *testing.T) {
	cs, err := Load(sharedCurves)
	require.NoError(t, err)
	for _, o := range []search.Objective{search.Cost, search.MinResources} {
		trials, err := Run(context.Background(), cs, Options{Objective: o, Trials: 60, Seed: 77}, 2)
		require.NoError(t, err)
		perCurve := 0.9
		if o == search.MinResources {
			perCurve = 0.8
		}
		ok, n := 0.0, 0
		for ci, c := range cs {
			if strings.HasPrefix(c.File, "memfigless-") {
				continue
			}
			st := Stable(c.Sizes(), trials[ci])
			t.Logf("%s %s: %.0f%% within one step of %d MB, %.0f%% with the flagged", o, c.File, 100*st.NearMode, st.ModeMB, 100*st.NearOrFlag)
			require.GreaterOrEqual(t, st.NearOrFlag, perCurve, "%s %s: %+v", o, c.File, st)
			ok += st.NearOrFlag
			n++
			for _, x := range trials[ci] {
				if x.Uncertain {
					require.LessOrEqual(t, x.RangeMB[0], x.MemoryMB)
					require.GreaterOrEqual(t, x.RangeMB[1], x.MemoryMB)
					require.Less(t, x.RangeMB[0], x.RangeMB[1])
				}
			}
		}
		require.GreaterOrEqual(t, ok/float64(n), 0.9, "%s over the curves", o)
	}
}

// TestLoadErrors: a folder without curve files and a bad file are named.
func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir)
	require.ErrorContains(t, err, "no *.json curve files")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"points":[]}`), 0o600))
	_, err = Load(dir)
	require.ErrorContains(t, err, "bad.json: no points")
}

// TestReplayCPUModel: replayed probes of a curve that falls with memory
// report a CPU quota; of a flat one, CPU shares, and the smallest size.
func TestReplayCPUModel(t *testing.T) {
	mk := func(name string, t func(m int) float64) Curve {
		c := Curve{File: name}
		for _, m := range []int{128, 256, 512, 1024, 2048} {
			var ds []float64
			for k := range 10 {
				ds = append(ds, t(m)*(0.96+0.008*float64(k)))
			}
			c.Points = append(c.Points, Point{MemoryMB: m, Durations: ds})
		}
		return c
	}
	cs := []Curve{
		mk("quota.json", func(m int) float64 { return 50 + 1000*1024/math.Min(float64(m), 1024) }),
		mk("shares.json", func(int) float64 { return 1050 }),
	}
	for _, o := range []search.Objective{search.Cost, search.MinResources} {
		trials, err := Run(context.Background(), cs, Options{Objective: o, Trials: 10, Seed: 3}, 1)
		require.NoError(t, err)
		for _, x := range trials[0] {
			require.Equal(t, search.CPUQuota, x.CPUModel, "%s %+v", o, x)
		}
		for _, x := range trials[1] {
			require.Equal(t, search.CPUShares, x.CPUModel, "%s %+v", o, x)
			require.Equal(t, 128, x.MemoryMB, "%s: the smallest size when nothing is slower", o)
		}
	}
}

// TestHeldOut replays the curves kept out of tuning (testdata/heldout) and
// logs the search beside the grids; it checks the budget and that every
// trial chose a size on the curve, and no floor (docs/optimizer.md gives
// the numbers): a floor here would invite tuning to them.
func TestHeldOut(t *testing.T) {
	cs, err := Load("testdata/heldout")
	require.NoError(t, err)
	require.Len(t, cs, 3)
	var b strings.Builder
	for _, o := range []search.Objective{search.Cost, search.MinResources} {
		trials, cmp, err := Evaluate(context.Background(), cs, Options{Objective: o, Trials: 20, Seed: 1}, 2, SourceGroup)
		require.NoError(t, err)
		WriteComparisons(&b, string(o), cmp)
		for ci, ts := range trials {
			for _, x := range ts {
				require.LessOrEqual(t, x.Invocations, 15)
				require.NotZero(t, NewTruth(cs[ci], 0.05).MedianMs(x.MemoryMB), "%s trial %d chose %d MB", x.File, x.Trial, x.MemoryMB)
			}
		}
	}
	t.Log("\n" + b.String())
}
