package replay

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/fnmgr/fnmgr/optimizer/score"
	"github.com/fnmgr/fnmgr/optimizer/search"
)

// NewTruth is the truth of c, each size's median recorded duration (the
// median, as the search estimates it; it is robust to the cold starts and
// slowed runs some files hold), with min-resources' tolerance tol.
func NewTruth(c Curve, tol float64) score.Truth {
	median := make(map[int]float64, len(c.Points))
	for _, p := range c.Points {
		median[p.MemoryMB] = medianOf(p.Durations)
	}
	return score.NewTruth(median, tol)
}

func medianOf(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// GridSizes are the sizes a Power Tuning-style grid of budget invocations
// tries on sizes: every size when the budget allows one invocation each,
// else budget sizes spread evenly over the list (the smallest and the
// largest included).
func GridSizes(sizes []int, budget int) []int {
	if budget >= len(sizes) || budget <= 0 {
		return sizes
	}
	if budget == 1 {
		return sizes[len(sizes)-1:]
	}
	var out []int
	for i := 0; i < budget; i++ {
		k := int(math.Round(float64(i) * float64(len(sizes)-1) / float64(budget-1)))
		if len(out) == 0 || out[len(out)-1] != sizes[k] {
			out = append(out, sizes[k])
		}
	}
	return out
}

// Grid runs a Power Tuning-style grid on c: the budget in equal shares
// over GridSizes (the remainder to the largest sizes), each size's
// durations drawn as the Prober draws them, summarised by Power Tuning's
// mean without the top and bottom 20%, and the objective's rule applied
// to those means (min-resources: the smallest size within the tolerance
// of the fastest mean). It returns the choice.
func Grid(c Curve, o search.Objective, tol float64, budget int, noise float64, seed uint64) int {
	byMem := map[int][]float64{}
	for _, p := range c.Points {
		byMem[p.MemoryMB] = p.Durations
	}
	sizes := GridSizes(c.Sizes(), budget)
	each, extra := budget/len(sizes), budget%len(sizes)
	means := map[int]float64{}
	for i, m := range sizes {
		n := each
		if i >= len(sizes)-extra {
			n++
		}
		r := rand.New(rand.NewPCG(seed, uint64(m)))
		ds := make([]float64, n)
		for k := range ds {
			ds[k] = draw(r, byMem[m], noise)
		}
		means[m] = score.TrimmedMean(ds, 0.2)
	}
	return score.GridChoice(means, o, tol)
}

// Share is the share of (curve, trial) pairs of a method whose choice was
// within score.Within (Truth.Judge), with the mean invocations spent.
type Share struct {
	Method      string  `json:"method"`
	Pairs       int     `json:"pairs"`
	Within      int     `json:"within"`
	Share       float64 `json:"share"`
	Invocations float64 `json:"invocations"`
	// MeanRegret is the mean relative excess (capped at 1 per pair).
	MeanRegret float64 `json:"meanRegret"`
}

func (s *Share) add(ok bool, regret float64, inv int) {
	s.Pairs++
	if ok {
		s.Within++
	}
	s.MeanRegret += math.Min(regret, 1)
	s.Invocations += float64(inv)
}

func (s *Share) finish() {
	if s.Pairs > 0 {
		s.Share = float64(s.Within) / float64(s.Pairs)
		s.MeanRegret /= float64(s.Pairs)
		s.Invocations /= float64(s.Pairs)
	}
}

// Comparison is the search beside the two grids, over one group of
// curves.
type Comparison struct {
	Group   string `json:"group"`
	Curves  int    `json:"curves"`
	Search  Share  `json:"search"`
	Grid    Share  `json:"grid"`    // Power Tuning-style grid with the search's budget
	GridBig Share  `json:"gridBig"` // the same with GridBudget
	// GridBudget is the larger grid's budget (60).
	GridBudget int `json:"gridBudget"`
}

// BigGrid is the budget of the larger grid the search is compared with.
const BigGrid = 60

// Compare scores the trials (from Run, same curves and options) and a
// grid with opts.MaxInvocations and one with BigGrid invocations on the
// same curves and trial seeds, every choice judged by the same Truth.Judge.
// group names each curve's group (its source, say); the result has one
// Comparison per group, in order of first appearance, then "all".
func Compare(curves []Curve, trials [][]Trial, opts Options, group func(Curve) string) []Comparison {
	opts = opts.withDefaults()
	idx := map[string]int{}
	var out []Comparison
	get := func(g string) *Comparison {
		i, ok := idx[g]
		if !ok {
			i = len(out)
			idx[g] = i
			out = append(out, Comparison{Group: g, GridBudget: BigGrid,
				Search: Share{Method: "search"}, Grid: Share{Method: fmt.Sprintf("grid %d", opts.MaxInvocations)},
				GridBig: Share{Method: fmt.Sprintf("grid %d", BigGrid)}})
		}
		return &out[i]
	}
	var groups []string
	for _, c := range curves {
		groups = append(groups, group(c))
	}
	for _, g := range groups {
		get(g)
	}
	get("all")
	for ci, c := range curves {
		tr := NewTruth(c, opts.Tolerance)
		for _, cmp := range []*Comparison{get(groups[ci]), get("all")} {
			cmp.Curves++
		}
		for _, t := range trials[ci] {
			seed := trialSeed(opts.Seed, t.Trial)
			g1 := Grid(c, opts.Objective, opts.Tolerance, opts.MaxInvocations, opts.Noise, seed)
			g2 := Grid(c, opts.Objective, opts.Tolerance, BigGrid, opts.Noise, seed)
			ok, reg := tr.Judge(opts.Objective, t.MemoryMB)
			ok1, reg1 := tr.Judge(opts.Objective, g1)
			ok2, reg2 := tr.Judge(opts.Objective, g2)
			for _, cmp := range []*Comparison{get(groups[ci]), get("all")} {
				cmp.Search.add(ok, reg, t.Invocations)
				cmp.Grid.add(ok1, reg1, opts.MaxInvocations)
				cmp.GridBig.add(ok2, reg2, BigGrid)
			}
		}
	}
	for i := range out {
		out[i].Search.finish()
		out[i].Grid.finish()
		out[i].GridBig.finish()
	}
	return out
}

// Evaluate is Run then Compare.
func Evaluate(ctx context.Context, curves []Curve, opts Options, workers int, group func(Curve) string) ([][]Trial, []Comparison, error) {
	opts = opts.withDefaults()
	trials, err := Run(ctx, curves, opts, workers)
	if err != nil {
		return trials, nil, err
	}
	return trials, Compare(curves, trials, opts, group), nil
}

// SourceGroup groups curves by the prefix of their file name before the
// first '-' (sebs, mbwilding, memfigless, ...), the source of the shared
// curves.
func SourceGroup(c Curve) string {
	name := c.File
	for i, r := range name {
		if r == '-' || r == '.' {
			return name[:i]
		}
	}
	return name
}
