package optimizer

import (
	"context"
	"fmt"
	"sort"
	"strings"

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
// invocations, and recommends GPU settings. The node sampled is the
// invoker that ran the probes at that size (Options.Invokers), else
// Options.GPUNode. Without a sampler, or when DCGM cannot start, the
// report says why and memory stays tuned alone. seen are the activation
// ids of the probes at memoryMB so far, newest last.
func (s *Service) measureGPU(ctx context.Context, t *probe.Tester, memoryMB int, seen []string) (*report.GPU, []string) {
	g := &report.GPU{MemoryMB: memoryMB}
	if s.o.GPU == nil {
		g.Unavailable = (&gpu.UnavailableError{Reason: "no GPU sampler is configured (DCGM)"}).Error()
		return g, nil
	}
	var warns []string
	g.Node = s.o.GPUNode
	if node, ok := s.invokerOf(ctx, seen); ok {
		g.Node = node
	} else if s.o.Invokers != nil {
		warns = append(warns, "the invoker that ran the probes is unknown (OpenWhisk's user events are off, or none arrived): "+
			"the GPU of the default node was sampled")
	}
	sess, err := s.o.GPU.Start(ctx, gpu.Target{Node: g.Node})
	if err != nil {
		g.Unavailable = unavailable(err)
		return g, warns
	}
	obs, perr := t.Probe(ctx, memoryMB, gpuSamples)
	u, err := sess.Stop()
	if err != nil {
		g.Unavailable = unavailable(err)
		return g, warns
	}
	if perr != nil {
		g.Unavailable = (&gpu.UnavailableError{Reason: fmt.Sprintf("the GPU probes failed: %v", perr)}).Error()
		return g, warns
	}
	if g.Node != "" {
		// The probes sampled over must have run on the node sampled.
		elsewhere := map[string]bool{}
		for _, o := range obs {
			if node, ok := s.invokerOf(ctx, []string{o.ActivationID}); ok && node != g.Node {
				elsewhere[node] = true
			}
		}
		if len(elsewhere) > 0 {
			nodes := make([]string, 0, len(elsewhere))
			for n := range elsewhere {
				nodes = append(nodes, n)
			}
			sort.Strings(nodes)
			warns = append(warns, fmt.Sprintf("some GPU probes ran on %s while %s's GPUs were sampled: the measurement may miss their use",
				strings.Join(nodes, ", "), g.Node))
		}
	}
	if u.Scope != gpu.ScopeProcess {
		where := "the node's GPUs"
		if g.Node != "" {
			where = g.Node + "'s GPUs"
		}
		warns = append(warns, "whole-GPU, shared: DCGM measured every process on "+where+
			", other tenants included (per-process accounting needs the action's process id on the node, which OpenWhisk does not report); "+
			"gpuMemorySize and gpuPercentage may be overstated on a busy node")
	}
	rec := gpu.Recommend(u, gpu.RecommendOptions{MaxGPUNum: s.o.Deployment.MaxGPUNum()})
	g.Usage, g.Recommendation = &u, &rec
	return g, warns
}

// invokerOf asks which invoker ran the newest of ids it knows.
func (s *Service) invokerOf(ctx context.Context, ids []string) (string, bool) {
	if s.o.Invokers == nil {
		return "", false
	}
	for i := len(ids) - 1; i >= 0 && i >= len(ids)-3; i-- {
		if ids[i] == "" {
			continue
		}
		if node, ok := s.o.Invokers.InvokerOf(ctx, ids[i]); ok {
			return node, true
		}
	}
	return "", false
}

func unavailable(err error) string {
	if msg, ok := gpu.Unavailable(err); ok {
		return msg
	}
	return (&gpu.UnavailableError{Reason: err.Error()}).Error()
}
