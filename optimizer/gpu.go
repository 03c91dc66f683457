package optimizer

import (
	"context"
	"fmt"

	"github.com/fnmgr/fnmgr/optimizer/gpu"
	"github.com/fnmgr/fnmgr/optimizer/probe"
	"github.com/fnmgr/fnmgr/optimizer/report"
)

// gpuSamples is how many warm invocations the GPU is sampled over.
const gpuSamples = 3

// gpuRuns is the extra invocations a GPU measurement needs.
func gpuRuns(v settled) int {
	if v.GPU {
		return gpuSamples
	}
	return 0
}

// measureGPU samples the GPU while the chosen size's copy runs a few warm
// invocations, and recommends GPU settings. Without a sampler, or when
// DCGM cannot start, the report says why and memory stays tuned alone.
func (s *Service) measureGPU(ctx context.Context, t *probe.Tester, memoryMB int) *report.GPU {
	g := &report.GPU{MemoryMB: memoryMB}
	if s.o.GPU == nil {
		g.Unavailable = (&gpu.UnavailableError{Reason: "no GPU sampler is configured (DCGM)"}).Error()
		return g
	}
	sess, err := s.o.GPU.Start(ctx, gpu.Target{Node: s.o.GPUNode})
	if err != nil {
		g.Unavailable = unavailable(err)
		return g
	}
	_, perr := t.Probe(ctx, memoryMB, gpuSamples)
	u, err := sess.Stop()
	if err != nil {
		g.Unavailable = unavailable(err)
		return g
	}
	if perr != nil {
		g.Unavailable = (&gpu.UnavailableError{Reason: fmt.Sprintf("the GPU probes failed: %v", perr)}).Error()
		return g
	}
	rec := gpu.Recommend(u, gpu.RecommendOptions{MaxGPUNum: s.o.Deployment.MaxGPUNum()})
	g.Usage, g.Recommendation = &u, &rec
	return g
}

func unavailable(err error) string {
	if msg, ok := gpu.Unavailable(err); ok {
		return msg
	}
	return (&gpu.UnavailableError{Reason: err.Error()}).Error()
}
