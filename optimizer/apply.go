package optimizer

import (
	"context"
	"fmt"

	"github.com/fnmgr/fnmgr/optimizer/report"
)

// apply writes the recommendation to the action through the Applier
// (which validates it, records the new config and adds an entry to the
// function's history), within the deployment's memory bounds.
func (s *Service) apply(ctx context.Context, ns, name string, run Run, rep *report.Report) error {
	rec := rep.Recommendation
	applied := &report.Applied{At: s.o.Now().UTC(), By: run.By, Setting: rec.Setting}
	rep.Applied = applied
	fail := func(err error) error {
		applied.Error = err.Error()
		return fmt.Errorf("optimizer: apply %d MB to %s/%s: %w", rec.MemoryMB, ns, name, err)
	}
	b, err := s.o.Deployment.MemoryBounds(ctx, ns)
	if err != nil {
		return fail(fmt.Errorf("deployment limits: %w", err))
	}
	if b.MaxMB > 0 && rec.MemoryMB > b.MaxMB {
		return fail(fmt.Errorf("%d MB is above %d MB (%s)", rec.MemoryMB, b.MaxMB, b.MaxFrom))
	}
	if rec.MemoryMB < b.MinMB {
		return fail(fmt.Errorf("%d MB is below %d MB (%s)", rec.MemoryMB, b.MinMB, b.MinFrom))
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
	if err := s.o.Applier.Apply(ctx, ns, name, Application{Setting: rec.Setting, By: by, Reason: reason}); err != nil {
		return fail(err)
	}
	s.log.Info("optimization applied", "function", ns+"/"+name, "run", run.ID, "memoryMB", rec.MemoryMB)
	return nil
}
