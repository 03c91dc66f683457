// Package gpu measures the GPU memory and utilisation an action uses while
// it is probed, and recommends its GPU settings (gpuNum, gpuMemorySize in
// 256 MB steps, gpuPercentage) from what was measured.
//
// Sampler is the interface the optimizer uses; NewDCGM implements it over
// NVIDIA DCGM (go-dcgm, which loads libdcgm.so.4 at run time, embedded or
// connected to an nv-hostengine per node). Without DCGM, Start fails with
// an *UnavailableError and the optimizer tunes memory only. Nothing in this
// package needs a GPU to build or to pass its tests.
package gpu

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Target says what to sample.
type Target struct {
	// Node names the invoker node whose GPUs run the probe ("" for the
	// host fnmgr runs on, or the only node configured).
	Node string
	// GPUs restricts sampling to these GPU ids (nil: all).
	GPUs []uint
}

// Usage is what a session measured.
type Usage struct {
	// PeakMemMB is the most GPU memory used on one GPU above what was in
	// use when the session started.
	PeakMemMB float64 `json:"peakMemMB"`
	// MeanUtilPct and P90UtilPct summarise the utilisation samples of the
	// GPUs the action used.
	MeanUtilPct float64 `json:"meanUtilPct"`
	P90UtilPct  float64 `json:"p90UtilPct"`
	// GPUs counts the GPUs that showed use (utilisation or 64 MB more
	// memory); Seen is how many were sampled.
	GPUs    int `json:"gpus"`
	Seen    int `json:"seen"`
	Samples int `json:"samples"`
	// Scope is what was measured: ScopeProcess (the action's own
	// processes) or ScopeWholeGPU (every process on the GPUs, other
	// tenants included).
	Scope string `json:"scope,omitempty"`
}

// Scopes of a Usage.
const (
	ScopeProcess  = "process"
	ScopeWholeGPU = "whole-gpu"
)

// ResolveHostengine finds the nv-hostengine of node in hostengines (from
// --dcgm-hostengines): its address and true; ("", false) to open DCGM
// embedded in this process when no hostengine is configured at all. With
// hostengines configured, an unknown node ("" included, unless only one
// hostengine is configured) is an *UnavailableError: sampling another
// node's GPUs, or fnmgr's own host, would measure the wrong machine.
func ResolveHostengine(hostengines map[string]string, node string) (string, bool, error) {
	if len(hostengines) == 0 {
		return "", false, nil
	}
	if addr, ok := hostengines[node]; ok {
		return addr, true, nil
	}
	if node == "" && len(hostengines) == 1 {
		for _, addr := range hostengines {
			return addr, true, nil
		}
	}
	nodes := make([]string, 0, len(hostengines))
	for n := range hostengines {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	if node == "" {
		return "", false, &UnavailableError{Reason: fmt.Sprintf("the invoker that ran the probes is unknown (no user event named it) and nv-hostengines are configured for %d nodes (%s)", len(nodes), strings.Join(nodes, ", "))}
	}
	return "", false, &UnavailableError{Reason: fmt.Sprintf("no nv-hostengine is configured for node %s (--dcgm-hostengines names %s)", node, strings.Join(nodes, ", "))}
}

// Session is one running measurement.
type Session interface {
	// Stop ends the measurement and returns what it saw.
	Stop() (Usage, error)
}

// Sampler starts measurements. Implementations must be safe for
// concurrent use; one may serialise sessions.
type Sampler interface {
	Start(ctx context.Context, t Target) (Session, error)
}

// UnavailableError says why GPUs cannot be measured; its text is what the
// report shows.
type UnavailableError struct{ Reason string }

func (e *UnavailableError) Error() string { return "GPU measurement unavailable: " + e.Reason }

// Unavailable reports whether err says the GPU cannot be measured, and why.
func Unavailable(err error) (string, bool) {
	var u *UnavailableError
	if errors.As(err, &u) {
		return u.Error(), true
	}
	return "", false
}

// Accumulator turns GPU samples into a Usage; samplers share it.
type Accumulator struct {
	baseline map[uint]float64
	peak     map[uint]float64
	util     map[uint][]float64
}

// NewAccumulator starts with the memory in use per GPU.
func NewAccumulator(baseline map[uint]float64) *Accumulator {
	b := map[uint]float64{}
	for k, v := range baseline {
		b[k] = v
	}
	return &Accumulator{baseline: b, peak: map[uint]float64{}, util: map[uint][]float64{}}
}

// Add records one sample of a GPU: memory used (MB) and utilisation (%).
func (a *Accumulator) Add(gpuID uint, memUsedMB, utilPct float64) {
	if _, ok := a.baseline[gpuID]; !ok {
		a.baseline[gpuID] = memUsedMB
	}
	a.peak[gpuID] = math.Max(a.peak[gpuID], memUsedMB-a.baseline[gpuID])
	a.util[gpuID] = append(a.util[gpuID], utilPct)
}

// Usage summarises the samples.
func (a *Accumulator) Usage() Usage {
	var u Usage
	var all []float64
	for id := range a.baseline {
		u.Seen++
		us := a.util[id]
		u.Samples += len(us)
		active := a.peak[id] >= 64
		for _, x := range us {
			if x > 0 {
				active = true
			}
		}
		if !active {
			continue
		}
		u.GPUs++
		u.PeakMemMB = math.Max(u.PeakMemMB, a.peak[id])
		all = append(all, us...)
	}
	if len(all) > 0 {
		sum := 0.0
		for _, x := range all {
			sum += x
		}
		u.MeanUtilPct = sum / float64(len(all))
		sort.Float64s(all)
		u.P90UtilPct = all[int(math.Ceil(0.9*float64(len(all))))-1]
	}
	return u
}

// Recommendation is the GPU settings the measurements call for.
type Recommendation struct {
	GPUNum        int    `json:"gpuNum"`
	GPUMemorySize int    `json:"gpuMemorySize,omitempty"`
	GPUPercentage int    `json:"gpuPercentage,omitempty"`
	Why           string `json:"why"`
}

// RecommendOptions tune Recommend.
type RecommendOptions struct {
	// Headroom is added to the peak memory: the larger of HeadroomFrac of
	// it and HeadroomMB (defaults 20% and 256 MB).
	HeadroomFrac float64
	HeadroomMB   float64
	// MaxGPUNum caps gpuNum (0: no cap).
	MaxGPUNum int
}

// Recommend turns usage into settings: gpuNum the GPUs used, gpuMemorySize
// the peak plus headroom rounded up to 256 MB, gpuPercentage the 90th
// percentile of utilisation plus 10%, rounded up to 5 (1 to 100).
func Recommend(u Usage, o RecommendOptions) Recommendation {
	if o.HeadroomFrac <= 0 {
		o.HeadroomFrac = 0.2
	}
	if o.HeadroomMB <= 0 {
		o.HeadroomMB = 256
	}
	if u.GPUs == 0 {
		return Recommendation{Why: fmt.Sprintf("no GPU showed use in %d samples of %d GPUs: the action needs none", u.Samples, u.Seen)}
	}
	r := Recommendation{GPUNum: u.GPUs}
	if o.MaxGPUNum > 0 && r.GPUNum > o.MaxGPUNum {
		r.GPUNum = o.MaxGPUNum
	}
	need := u.PeakMemMB + math.Max(o.HeadroomFrac*u.PeakMemMB, o.HeadroomMB)
	r.GPUMemorySize = int(math.Ceil(need/256-1e-9)) * 256
	pct := math.Ceil(u.P90UtilPct*1.1/5-1e-9) * 5
	r.GPUPercentage = int(math.Max(1, math.Min(100, pct)))
	r.Why = fmt.Sprintf("%d GPU(s) in use; peak %.0f MB of GPU memory plus headroom gives %d MB; utilisation %.0f%% on average, %.0f%% at the 90th percentile, plus 10%% gives %d%%",
		u.GPUs, u.PeakMemMB, r.GPUMemorySize, u.MeanUtilPct, u.P90UtilPct, r.GPUPercentage)
	return r
}
