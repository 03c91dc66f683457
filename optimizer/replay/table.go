package replay

import (
	"fmt"
	"io"
	"sort"
)

// WriteComparisons prints comparisons as a Markdown table: per group, the
// share of (curve, trial) pairs within 5% for the search and both grids,
// and the invocations each spent.
func WriteComparisons(w io.Writer, objective string, cs []Comparison) {
	fmt.Fprintln(w, "| objective | source | curves | pairs | search within 5% | search invocations | grid 15 within 5% | grid 60 within 5% | search mean regret |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, c := range cs {
		fmt.Fprintf(w, "| %s | %s | %d | %d | %.1f%% | %.1f | %.1f%% | %.1f%% | %.1f%% |\n",
			objective, c.Group, c.Curves, c.Search.Pairs, 100*c.Search.Share, c.Search.Invocations,
			100*c.Grid.Share, 100*c.GridBig.Share, 100*c.Search.MeanRegret)
	}
}

// Stability is how one curve's repeated searches agree: the share of
// trials whose choice is within one candidate step of the most frequent
// choice (the mode), and the share that is either that or flagged
// uncertain.
type Stability struct {
	File       string  `json:"file"`
	Trials     int     `json:"trials"`
	ModeMB     int     `json:"modeMB"`
	NearMode   float64 `json:"nearMode"`
	NearOrFlag float64 `json:"nearOrFlagged"`
}

// Stable measures agreement over one curve's trials (sizes is the
// curve's candidate list).
func Stable(sizes []int, ts []Trial) Stability {
	st := Stability{Trials: len(ts)}
	if len(ts) == 0 {
		return st
	}
	st.File = ts[0].File
	count := map[int]int{}
	for _, t := range ts {
		count[t.MemoryMB]++
	}
	// The mode; ties go to the size with more trials within one step.
	near := func(c int) int {
		n := 0
		for _, t := range ts {
			if abs(index(sizes, t.MemoryMB)-index(sizes, c)) <= 1 {
				n++
			}
		}
		return n
	}
	best, bn := 0, -1
	keys := make([]int, 0, len(count))
	for m := range count {
		keys = append(keys, m)
	}
	sort.Ints(keys)
	for _, m := range keys {
		if n := near(m); n > bn {
			best, bn = m, n
		}
	}
	st.ModeMB = best
	flagged := 0
	for _, t := range ts {
		if abs(index(sizes, t.MemoryMB)-index(sizes, best)) <= 1 || t.Uncertain {
			flagged++
		}
	}
	st.NearMode = float64(bn) / float64(len(ts))
	st.NearOrFlag = float64(flagged) / float64(len(ts))
	return st
}

func index(sizes []int, m int) int { return sort.SearchInts(sizes, m) }

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
