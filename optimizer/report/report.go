// Package report is the stored result of an optimization: every probe,
// the statistics, the decision and why, what was spent, the expected
// saving against the current setting, the passive (real traffic) view and
// the GPU measurement; and Chart, which draws it as an SVG.
package report

import (
	"math"
	"sort"
	"time"

	"github.com/fnmgr/fnmgr/optimizer/gpu"
	"github.com/fnmgr/fnmgr/optimizer/search"
)

// Setting is a function's run-time setting.
type Setting struct {
	MemoryMB      int  `json:"memoryMB"`
	GPUNum        *int `json:"gpuNum,omitempty"`
	GPUMemorySize *int `json:"gpuMemorySize,omitempty"`
	GPUPercentage *int `json:"gpuPercentage,omitempty"`
}

// Recommendation is the setting the report recommends, and where it comes
// from ("active": measured by probes; "passive": from real traffic).
type Recommendation struct {
	Setting
	Source    string `json:"source"`
	Predicted bool   `json:"predicted,omitempty"`
	Why       string `json:"why"`
}

// Saving compares the recommendation with the current setting, per
// invocation. Estimated is true when the current size was not measured and
// its time was interpolated from the sizes around it.
type Saving struct {
	CurrentMs         float64 `json:"currentMs"`
	RecommendedMs     float64 `json:"recommendedMs"`
	CurrentGBSeconds  float64 `json:"currentGBSeconds"`
	RecommendedGBs    float64 `json:"recommendedGBSeconds"`
	GBSecondsSavedPct float64 `json:"gbSecondsSavedPct"`
	MemorySavedMB     int     `json:"memorySavedMB"`
	SlowdownPct       float64 `json:"slowdownPct"`
	CurrentEstimated  bool    `json:"currentEstimated,omitempty"`
	CurrentInfeasible bool    `json:"currentInfeasible,omitempty"`
	CurrentUnmeasured bool    `json:"currentUnmeasured,omitempty"`
}

// GPU is the GPU part of the report.
type GPU struct {
	// Unavailable says why nothing was measured ("GPU measurement
	// unavailable: <reason>"); the memory was tuned alone.
	Unavailable string `json:"unavailable,omitempty"`
	MemoryMB    int    `json:"memoryMB,omitempty"` // the size the GPU was measured at
	// Node is the invoker node whose GPUs were sampled ("" when the
	// sampler's default was).
	Node           string              `json:"node,omitempty"`
	Usage          *gpu.Usage          `json:"usage,omitempty"`
	Recommendation *gpu.Recommendation `json:"recommendation,omitempty"`
}

// Passive is the view from real traffic (the events topic).
type Passive struct {
	search.PassiveResult
}

// Report is the outcome of one optimization run.
type Report struct {
	Function  string           `json:"function"`
	RunID     string           `json:"runId"`
	Mode      string           `json:"mode"`
	Objective search.Objective `json:"objective"`
	Tolerance float64          `json:"tolerance"`
	Current   Setting          `json:"current"`
	// Candidates are the sizes the search could choose from.
	Candidates     []int           `json:"candidates"`
	Active         *search.Result  `json:"active,omitempty"`
	Passive        *Passive        `json:"passive,omitempty"`
	GPU            *GPU            `json:"gpu,omitempty"`
	Recommendation *Recommendation `json:"recommendation,omitempty"`
	Saving         *Saving         `json:"saving,omitempty"`
	Invocations    int             `json:"invocations"`
	GBSeconds      float64         `json:"gbSeconds"`
	Warnings       []string        `json:"warnings,omitempty"`
	Throttle       *Throttle       `json:"throttle,omitempty"`
	Applied        *Applied        `json:"applied,omitempty"`
	Started        time.Time       `json:"started"`
	Finished       time.Time       `json:"finished,omitempty"`
}

// Throttle is how the probes kept to the namespace's invocation throttle
// (OpenWhisk's invocationsPerMinute and concurrentInvocations), and what
// it refused them.
type Throttle struct {
	// NamespacePerMinute and NamespaceConcurrent are the namespace's
	// throttle (0: unknown).
	NamespacePerMinute  int `json:"namespacePerMinute,omitempty"`
	NamespaceConcurrent int `json:"namespaceConcurrent,omitempty"`
	// Share is the share of it the probes of all the namespace's runs
	// may use together: PerMinute starts a minute, Concurrent at once
	// (0: no bound).
	Share      float64 `json:"share"`
	PerMinute  int     `json:"perMinute,omitempty"`
	Concurrent int     `json:"concurrent,omitempty"`
	// Refusals counts the probe invocations refused with 429; BackoffMs
	// is how long they waited before their retries, in all.
	Refusals  int     `json:"refusals"`
	BackoffMs float64 `json:"backoffMs"`
}

// Applied records that the recommendation was written to the action.
type Applied struct {
	At      time.Time `json:"at"`
	By      string    `json:"by"`
	Setting Setting   `json:"setting"`
	Error   string    `json:"error,omitempty"`
}

// EstimateSaving compares recommended (measured time recMs) with the
// current size, whose time comes from the measured points: measured, or
// interpolated in log-log between the measured sizes around it.
func EstimateSaving(points []search.Point, currentMB, recommendedMB int, recMs float64) *Saving {
	if currentMB <= 0 || recommendedMB <= 0 || recMs <= 0 {
		return nil
	}
	s := &Saving{RecommendedMs: recMs, RecommendedGBs: search.GBSeconds(recommendedMB, recMs),
		MemorySavedMB: currentMB - recommendedMB}
	type pt struct {
		m int
		t float64
	}
	var ps []pt
	infeasibleAbove := 0
	for _, p := range points {
		if p.Feasibility == search.Infeasible && p.MemoryMB >= currentMB {
			infeasibleAbove = max(infeasibleAbove, p.MemoryMB)
		}
		if p.Feasibility == search.Feasible && p.Stats.N > 0 {
			ps = append(ps, pt{p.MemoryMB, p.Stats.MedianMs})
		}
	}
	if infeasibleAbove > 0 {
		s.CurrentInfeasible = true
		return s
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].m < ps[j].m })
	switch {
	case len(ps) == 0:
		s.CurrentUnmeasured = true
		return s
	case currentMB <= ps[0].m:
		s.CurrentMs = ps[0].t
		s.CurrentEstimated = currentMB != ps[0].m
		if currentMB < ps[0].m {
			s.CurrentUnmeasured = true
			return s
		}
	case currentMB >= ps[len(ps)-1].m:
		s.CurrentMs, s.CurrentEstimated = ps[len(ps)-1].t, currentMB != ps[len(ps)-1].m
	default:
		for i := 1; i < len(ps); i++ {
			a, b := ps[i-1], ps[i]
			if currentMB == a.m {
				s.CurrentMs = a.t
				break
			}
			if currentMB < b.m {
				f := math.Log(float64(currentMB)/float64(a.m)) / math.Log(float64(b.m)/float64(a.m))
				s.CurrentMs = math.Exp(math.Log(a.t) + f*(math.Log(b.t)-math.Log(a.t)))
				s.CurrentEstimated = true
				break
			}
			if currentMB == b.m {
				s.CurrentMs = b.t
				break
			}
		}
	}
	s.CurrentGBSeconds = search.GBSeconds(currentMB, s.CurrentMs)
	if s.CurrentGBSeconds > 0 {
		s.GBSecondsSavedPct = 100 * (1 - s.RecommendedGBs/s.CurrentGBSeconds)
	}
	if s.CurrentMs > 0 {
		s.SlowdownPct = 100 * (recMs/s.CurrentMs - 1)
	}
	return s
}
