package optimizer

import (
	"context"
	"fmt"

	"github.com/fnmgr/fnmgr/optimizer/report"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/versions"
)

// apply writes the recommendation to the action through the version
// controller (which validates it and records the new config) and adds an
// entry to the function's history.
func (s *Service) apply(ctx context.Context, ns, name string, run Run, rep *report.Report) error {
	rec := rep.Recommendation
	req := versions.ConfigRequest{MemorySize: &rec.MemoryMB, GPUNum: rec.GPUNum, GPUMemorySize: rec.GPUMemorySize,
		GPUPercentage: rec.GPUPercentage}
	applied := &report.Applied{At: s.o.Now().UTC(), By: run.By, Setting: rec.Setting}
	rep.Applied = applied
	if _, err := s.o.Configurer.SetConfig(ctx, ns, name, req, s.o.Deployment); err != nil {
		applied.Error = err.Error()
		return fmt.Errorf("optimizer: apply %d MB to %s/%s: %w", rec.MemoryMB, ns, name, err)
	}
	f, err := s.o.Registry.GetFunction(ctx, ns, name)
	if err != nil {
		return fmt.Errorf("optimizer: record the applied setting: %w", err)
	}
	reason := fmt.Sprintf("optimization %s applied (%s): memory %d MB -> %d MB", run.ID, rep.Objective, rep.Current.MemoryMB, rec.MemoryMB)
	if rec.GPUNum != nil {
		reason += fmt.Sprintf(", gpuNum %d", *rec.GPUNum)
		if rec.GPUMemorySize != nil && rec.GPUPercentage != nil {
			reason += fmt.Sprintf(", gpuMemorySize %d MB, gpuPercentage %d", *rec.GPUMemorySize, *rec.GPUPercentage)
		}
	}
	by := run.By
	if by == "" {
		by = "optimizer"
	}
	h := registry.History{From: f.State, To: f.State, By: by, Reason: reason, Revision: f.Head.Revision}
	if err := s.o.Registry.AddHistory(ctx, ns, name, h); err != nil {
		return fmt.Errorf("optimizer: record the applied setting: %w", err)
	}
	s.log.Info("optimization applied", "function", ns+"/"+name, "run", run.ID, "memoryMB", rec.MemoryMB)
	return nil
}
