package optimizer

import (
	"github.com/fnmgr/fnmgr/optimizer/report"
	"github.com/fnmgr/fnmgr/optimizer/search"
)

// passive reads real traffic's statistics of ns/name and applies the
// objective to them.
func (s *Service) passive(ns, name string, v settled) search.PassiveResult {
	var samples []search.Sample
	if s.o.Traffic != nil {
		samples, _ = s.o.Traffic.Samples(ns, name)
	}
	return search.Passive(samples, v.objective, v.tolerance, search.PassiveOptions{})
}

// passiveSaving compares a passive decision with the current size, when
// real traffic ran at the current size too.
func passiveSaving(sizes []search.Sample, currentMB int, d *search.Decision) *report.Saving {
	var pts []search.Point
	for _, s := range sizes {
		if s.Count > s.Errors && s.MedianMs > 0 {
			pts = append(pts, search.Point{MemoryMB: s.MemoryMB, Feasibility: search.Feasible,
				Stats: search.Summary{N: int(s.Count - s.Errors), MedianMs: s.MedianMs}})
		}
	}
	return report.EstimateSaving(pts, currentMB, d.MemoryMB, d.MedianMs)
}
