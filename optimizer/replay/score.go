package replay

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/fnmgr/fnmgr/optimizer/search"
)

// Within is the slack a choice is allowed in the objective's own measure:
// a choice within 5% of the right answer counts as right.
const Within = 0.05

// Truth is what a curve says is right, from the median of every size's
// recorded durations (the median, as the search estimates it; it is
// robust to the cold starts and slowed runs some files hold).
type Truth struct {
	sizes  []int
	median map[int]float64
	bestMs float64
	tol    float64
}

// NewTruth computes the medians of c with min-resources' tolerance tol.
func NewTruth(c Curve, tol float64) Truth {
	t := Truth{median: map[int]float64{}, bestMs: math.Inf(1), tol: tol}
	for _, p := range c.Points {
		m := medianOf(p.Durations)
		t.sizes = append(t.sizes, p.MemoryMB)
		t.median[p.MemoryMB] = m
		t.bestMs = math.Min(t.bestMs, m)
	}
	return t
}

// MedianMs is the true median time at m (0 when m is not on the curve).
func (t Truth) MedianMs(m int) float64 { return t.median[m] }

// value is what objective o minimises at m: memory for min-resources
// (among the sizes within the tolerance of the fastest; +Inf for the
// others), GB-seconds for cost, time × GB-seconds for balanced.
func (t Truth) value(o search.Objective, m int) float64 {
	d, ok := t.median[m]
	if !ok {
		return math.Inf(1)
	}
	switch o {
	case search.Cost:
		return float64(m) * d
	case search.Balanced:
		return float64(m) * d * d
	}
	if d > (1+t.tol)*t.bestMs {
		return math.Inf(1)
	}
	return float64(m)
}

// Best is the right answer for o: the size with the least value (the
// smallest on ties).
func (t Truth) Best(o search.Objective) int {
	best, bv := 0, math.Inf(1)
	for _, m := range t.sizes {
		if v := t.value(o, m); v < bv {
			best, bv = m, v
		}
	}
	return best
}

// Judge scores choice m for o. For cost and balanced, regret is the
// choice's true value over the best's, less one, and the choice is right
// when regret <= Within. For min-resources (and duration) the right
// answer is the smallest size whose true median is within the tolerance
// of the fastest; a choice is right when it is no more than 5% larger and
// its median no more than 5% beyond the tolerance, and regret is the
// larger of the two excesses. A choice off the curve (0: none) has
// infinite regret.
func (t Truth) Judge(o search.Objective, m int) (ok bool, regret float64) {
	d, on := t.median[m]
	if !on {
		return false, math.Inf(1)
	}
	want := t.Best(o)
	if m == want {
		return true, 0
	}
	if o == search.MinResources {
		slow := d/((1+t.tol)*t.bestMs) - 1
		mem := float64(m)/float64(want) - 1
		regret = math.Max(math.Max(slow, mem), 0)
		return slow <= Within && mem <= Within, regret
	}
	regret = t.value(o, m)/t.value(o, want) - 1
	return regret <= Within, regret
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
		means[m] = trimmedMean(ds, 0.2)
	}
	best := math.Inf(1)
	for _, t := range means {
		best = math.Min(best, t)
	}
	pick, pv := 0, math.Inf(1)
	for _, m := range sizes {
		t := means[m]
		var v float64
		switch o {
		case search.Cost:
			v = float64(m) * t
		case search.Balanced:
			v = float64(m) * t * t
		default:
			if t <= (1+tol)*best {
				return m
			}
			continue
		}
		if v < pv {
			pick, pv = m, v
		}
	}
	return pick
}

func trimmedMean(xs []float64, cut float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	k := int(float64(len(s)) * cut)
	s = s[k : len(s)-k]
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return sum / float64(len(s))
}

// Share is the share of (curve, trial) pairs of a method whose choice was
// within 5% (Judge), with the mean invocations spent.
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
