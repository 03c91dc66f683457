package search

import (
	"fmt"
	"math"
	"sort"
)

// Sample is what real traffic showed at one memory size (the analyzer's
// per-size statistics from the events topic).
type Sample struct {
	MemoryMB   int     `json:"memoryMB"`
	Count      int64   `json:"count"`
	Errors     int64   `json:"errors"`
	ColdStarts int64   `json:"coldStarts"`
	MedianMs   float64 `json:"medianMs"`
	MeanMs     float64 `json:"meanMs"`
}

// PassiveOptions set how much traffic is enough.
type PassiveOptions struct {
	// MinActivations in all (default 20) at MinSizes sizes (default 2),
	// each with MinPerSize successful activations (default 5).
	MinActivations int64
	MinSizes       int
	MinPerSize     int64
	// FailingShare is the error share above which a size counts as
	// failing there (default 0.5).
	FailingShare float64
}

// PassiveResult is the recommendation from real traffic.
type PassiveResult struct {
	Enough       bool       `json:"enough"`
	Why          string     `json:"why"`
	Sizes        []Sample   `json:"sizes"`
	Failing      []int      `json:"failing,omitempty"`
	Decision     *Decision  `json:"decision,omitempty"`
	Alternatives []Decision `json:"alternatives,omitempty"`
	Note         string     `json:"note,omitempty"`
}

// Passive applies objective o (tolerance tol) to the sizes real traffic
// ran at. It never extrapolates: it chooses among the sizes seen. With too
// little traffic it says how much more is needed.
func Passive(samples []Sample, o Objective, tol float64, po PassiveOptions) PassiveResult {
	if po.MinActivations <= 0 {
		po.MinActivations = 20
	}
	if po.MinSizes <= 0 {
		po.MinSizes = 2
	}
	if po.MinPerSize <= 0 {
		po.MinPerSize = 5
	}
	if po.FailingShare <= 0 {
		po.FailingShare = 0.5
	}
	if tol <= 0 {
		tol = 0.05
	}
	r := PassiveResult{Sizes: append([]Sample{}, samples...)}
	sort.Slice(r.Sizes, func(i, j int) bool { return r.Sizes[i].MemoryMB < r.Sizes[j].MemoryMB })
	var total int64
	var usable []Sample
	ceiling := 0
	for _, s := range r.Sizes {
		total += s.Count
		if s.Count > 0 && float64(s.Errors)/float64(s.Count) >= po.FailingShare {
			r.Failing = append(r.Failing, s.MemoryMB)
			ceiling = max(ceiling, s.MemoryMB)
		}
	}
	for _, s := range r.Sizes {
		if s.MemoryMB > ceiling && s.Count-s.Errors >= po.MinPerSize && s.MedianMs > 0 {
			usable = append(usable, s)
		}
	}
	if total < po.MinActivations || len(usable) < po.MinSizes {
		r.Why = fmt.Sprintf("not enough traffic: %d activations with %d sizes of at least %d successful runs; passive mode needs %d activations at %d sizes",
			total, len(usable), po.MinPerSize, po.MinActivations, po.MinSizes)
		return r
	}
	r.Enough = true
	r.Why = fmt.Sprintf("%d activations at %d sizes", total, len(usable))
	best := math.Inf(1)
	for _, s := range usable {
		best = math.Min(best, s.MedianMs)
	}
	for _, obj := range Objectives {
		d := passiveDecide(usable, obj, tol, best)
		if len(r.Failing) > 0 {
			d.Why += fmt.Sprintf("; most activations failed at %v MB", r.Failing)
		}
		if obj == o {
			r.Decision = &d
		} else {
			r.Alternatives = append(r.Alternatives, d)
		}
	}
	if r.Decision.MemoryMB == usable[0].MemoryMB {
		r.Note = fmt.Sprintf("%d MB is the smallest size real traffic ran at: smaller sizes were never seen, an active run may go lower", usable[0].MemoryMB)
	}
	return r
}

func passiveDecide(usable []Sample, o Objective, tol, best float64) Decision {
	d := Decision{Objective: o}
	pick := -1
	switch o {
	case MinResources:
		for i, s := range usable {
			if s.MedianMs <= (1+tol)*best {
				pick = i
				break
			}
		}
	default:
		bv := math.Inf(1)
		for i, s := range usable {
			v := float64(s.MemoryMB) * s.MedianMs
			if o == Balanced {
				v *= s.MedianMs
			}
			if v < bv {
				pick, bv = i, v
			}
		}
	}
	s := usable[pick]
	d.MemoryMB, d.MedianMs, d.GBSeconds = s.MemoryMB, s.MedianMs, GBSeconds(s.MemoryMB, s.MedianMs)
	switch o {
	case MinResources:
		d.Why = fmt.Sprintf("real traffic: %d MB is the smallest size seen whose median (%.0f ms over %d activations) is within %.0f%% of the best seen (%.0f ms)",
			s.MemoryMB, s.MedianMs, s.Count, 100*tol, best)
	case Cost:
		d.Why = fmt.Sprintf("real traffic: %d MB cost the least seen, %.6f GB-s per activation (median %.0f ms over %d activations)",
			s.MemoryMB, d.GBSeconds, s.MedianMs, s.Count)
	case Balanced:
		d.Why = fmt.Sprintf("real traffic: %d MB has the smallest product of time and cost seen (median %.0f ms over %d activations)",
			s.MemoryMB, s.MedianMs, s.Count)
	}
	return d
}
