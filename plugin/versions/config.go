package versions

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/api"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/reqerr"
)

// GPU annotations written on an action by PUT …/config. They are ordinary
// annotations (part of the function's snapshot, so versions keep them) that
// a GPU-aware invoker reads: gpuNum (GPUs), gpuMemorySize (MB of GPU
// memory, a multiple of 256) and gpuPercentage (share of a GPU, 1-100).
const (
	AnnotationGPUNum        = "gpuNum"
	AnnotationGPUMemorySize = "gpuMemorySize"
	AnnotationGPUPercentage = "gpuPercentage"
)

// Deployment bounds the run-time settings.
type Deployment interface {
	MinMemoryMB(ctx context.Context) (int, error)
	MaxMemoryMB() int
	MaxGPUNum() int
	Kinds(ctx context.Context) ([]string, error)
}

// LimitsChecker checks the limits fnmgr is about to write on an action of
// namespace ns against the deployment (nil: not written), naming each as
// field does; its errors wrap registry.ErrInvalid and say which bound and
// where it comes from (plugin/deployment.Info implements it). A Deployment
// that is also a LimitsChecker is asked instead of MinMemoryMB/MaxMemoryMB.
type LimitsChecker interface {
	CheckLimits(ctx context.Context, ns string, memory, timeout, logs *int, field func(string) string) error
}

// LimitsFitter moves limits into namespace ns's ranges (plugin/deployment.Info
// implements it). When the LimitsChecker is also a LimitsFitter, stubs take
// limits the deployment runs, whatever limits the function itself has.
type LimitsFitter interface {
	FitLimits(ctx context.Context, ns string, l entity.Limits) (entity.Limits, error)
}

// imageRef is a Docker image reference: [registry/]repo[/more][:tag].
var imageRef = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+(:[\w][\w.-]{0,127})?$`)

// ValidateConfig checks req against the deployment and returns the
// resolved baseImage kind ("" when req names a blackbox image).
func ValidateConfig(ctx context.Context, ns string, req api.ConfigRequest, d Deployment) (kind string, err error) {
	if m := req.MemorySize; m != nil {
		if *m%64 != 0 {
			return "", reqerr.Field("memorySize", "%d MB must be a multiple of 64 MB", *m)
		}
		if lc, ok := d.(LimitsChecker); ok {
			// The tightest of MAX_MEMORY, the controller's and the
			// namespace's bounds, named in the error.
			if err := lc.CheckLimits(ctx, ns, m, nil, nil, func(string) string { return "memorySize" }); err != nil {
				return "", fmt.Errorf("config: %w", err)
			}
		} else {
			lo, err := d.MinMemoryMB(ctx)
			if err != nil {
				return "", fmt.Errorf("config: %w", err)
			}
			hi := d.MaxMemoryMB()
			switch {
			case hi == 0:
				return "", reqerr.Field("memorySize", "cannot be checked: MAX_MEMORY is unknown (no invoker health ping seen and none configured)")
			case *m < lo || *m > hi:
				return "", reqerr.Field("memorySize", "%d MB must be between %d and %d MB (MAX_MEMORY)", *m, lo, hi)
			}
		}
	}
	if g := req.GPUNum; g != nil && (*g < 0 || *g > d.MaxGPUNum()) {
		return "", reqerr.Field("gpuNum", "%d must be between 0 and %d", *g, d.MaxGPUNum())
	}
	if g := req.GPUMemorySize; g != nil && (*g < 256 || *g%256 != 0) {
		return "", reqerr.Field("gpuMemorySize", "%d MB must be a positive multiple of 256 MB", *g)
	}
	if g := req.GPUPercentage; g != nil && (*g < 1 || *g > 100) {
		return "", reqerr.Field("gpuPercentage", "%d must be between 1 and 100", *g)
	}
	if b := req.BaseImage; b != nil {
		kinds, err := d.Kinds(ctx)
		if err != nil {
			return "", fmt.Errorf("config: %w", err)
		}
		switch {
		case slices.Contains(kinds, *b):
			return *b, nil
		case imageRef.MatchString(*b):
			return "", nil
		default:
			return "", reqerr.Field("baseImage", "%q is neither a runtime kind this deployment offers (%s) nor a Docker image reference such as openwhisk/action-python-v3.11:nightly",
				*b, strings.Join(kinds, ", "))
		}
	}
	return "", nil
}

// SetConfig validates req and applies it to the function's action: memory
// to limits.memory, baseImage to the kind (or blackbox image), GPU settings
// to annotations. The change reaches the registry through the change feed,
// as a revision.
func (c *Controller) SetConfig(ctx context.Context, ns, name string, req api.ConfigRequest, d Deployment) (registry.Config, error) {
	kind, err := ValidateConfig(ctx, ns, req, d)
	if err != nil {
		return registry.Config{}, err
	}
	defer Lock(ns, name)()
	f, err := c.reg.GetFunction(ctx, ns, name)
	if err != nil {
		return registry.Config{}, err
	}
	if err := writable(f, "config"); err != nil {
		return registry.Config{}, err
	}
	if f.State == registry.Blocked {
		return registry.Config{}, reqerr.New(reqerr.Conflict, "function %s is BLOCKED; unblock it first", f.FQN())
	}
	started := c.now().UTC()
	_, err = c.ow.Modify(ctx, registry.DocID(ns, name), func(a *entity.Action) (bool, error) {
		if a.Exec.Kind == entity.KindSequence && (req.BaseImage != nil || req.MemorySize != nil) {
			return false, reqerr.New(reqerr.Invalid, "function %s is a sequence; its components carry the settings", f.FQN())
		}
		if req.MemorySize != nil {
			a.Limits.Memory = *req.MemorySize
		}
		if req.BaseImage != nil {
			if kind != "" {
				a.Exec.Kind, a.Exec.Image = kind, ""
			} else {
				a.Exec.Kind, a.Exec.Image = entity.KindBlackbox, *req.BaseImage
			}
			a.Annotations = a.Annotations.With("exec", a.Exec.Kind)
		}
		for key, v := range map[string]*int{AnnotationGPUNum: req.GPUNum, AnnotationGPUMemorySize: req.GPUMemorySize, AnnotationGPUPercentage: req.GPUPercentage} {
			if v != nil {
				a.Annotations = a.Annotations.With(key, *v)
			}
		}
		return true, nil
	})
	if err != nil {
		if errors.Is(err, registry.ErrInvalid) {
			return registry.Config{}, err
		}
		return registry.Config{}, fmt.Errorf("config %s: %w", f.FQN(), err)
	}
	f, err = c.reg.Update(ctx, ns, name, func(f *registry.Function) error {
		if req.BaseImage != nil {
			f.Config.BaseImage = *req.BaseImage
		}
		if req.MemorySize != nil {
			f.Config.MemorySize = *req.MemorySize
		}
		if req.GPUNum != nil {
			f.Config.GPUNum = req.GPUNum
		}
		if req.GPUMemorySize != nil {
			f.Config.GPUMemorySize = req.GPUMemorySize
		}
		if req.GPUPercentage != nil {
			f.Config.GPUPercentage = req.GPUPercentage
		}
		return nil
	})
	if err != nil {
		return registry.Config{}, err
	}
	return f.Config, c.audit(ctx, f, started, registry.History{Op: "config"})
}
