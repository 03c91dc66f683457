package controller

import (
	"net/http"
	"strconv"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// mergeLimits applies the fields a PUT sends over base, field by field.
func mergeLimits(base entity.Limits, p *entity.LimitsPut) entity.Limits {
	if p == nil {
		return base
	}
	if p.Timeout != nil {
		base.Timeout = *p.Timeout
	}
	if p.Memory != nil {
		base.Memory = *p.Memory
	}
	if p.Logs != nil {
		base.Logs = *p.Logs
	}
	if p.Concurrency != nil {
		base.Concurrency = *p.Concurrency
	}
	if p.Instances != nil {
		v := *p.Instances
		base.Instances = &v
	}
	return base
}

// namespaceLimitsView is the body of GET /namespaces/{ns}/limits.
type namespaceLimitsView struct {
	InvocationsPerMinute  int      `json:"invocationsPerMinute"`
	ConcurrentInvocations int      `json:"concurrentInvocations"`
	FiresPerMinute        int      `json:"firesPerMinute"`
	AllowedKinds          []string `json:"allowedKinds,omitempty"`
	StoreActivations      *bool    `json:"storeActivations,omitempty"`
	MinActionMemory       int      `json:"minActionMemory"`
	MaxActionMemory       int      `json:"maxActionMemory"`
	MinActionLogs         int      `json:"minActionLogs"`
	MaxActionLogs         int      `json:"maxActionLogs"`
	MinActionTimeout      int      `json:"minActionTimeout"`
	MaxActionTimeout      int      `json:"maxActionTimeout"`
	MinActionConcurrency  int      `json:"minActionConcurrency"`
	MaxActionConcurrency  int      `json:"maxActionConcurrency"`
	MaxParameterSize      string   `json:"maxParameterSize"`
	MaxActionInstances    int      `json:"maxActionInstances"`
}

func (c *Controller) namespaceLimits(id *identity) namespaceLimitsView {
	sys := c.opts.Limits
	r := sys.Ranges.For(id.Limits)
	v := namespaceLimitsView{
		InvocationsPerMinute: sys.InvocationsPerMinute, ConcurrentInvocations: sys.ConcurrentInvocations,
		FiresPerMinute:  sys.FiresPerMinute,
		MinActionMemory: r.MinMemoryMB, MaxActionMemory: r.MaxMemoryMB,
		MinActionLogs: r.MinLogsMB, MaxActionLogs: r.MaxLogsMB,
		MinActionTimeout: r.MinTimeoutMS, MaxActionTimeout: r.MaxTimeoutMS,
		MinActionConcurrency: r.MinConcurrency, MaxActionConcurrency: r.MaxConcurrency,
		MaxParameterSize:   strconv.FormatInt(sys.MaxPayloadBytes, 10) + " B",
		MaxActionInstances: sys.ConcurrentInvocations,
	}
	if l := id.Limits; l != nil {
		if l.InvocationsPerMinute != nil {
			v.InvocationsPerMinute = *l.InvocationsPerMinute
		}
		if l.ConcurrentInvocations != nil {
			v.ConcurrentInvocations = *l.ConcurrentInvocations
			v.MaxActionInstances = *l.ConcurrentInvocations
		}
		if l.FiresPerMinute != nil {
			v.FiresPerMinute = *l.FiresPerMinute
		}
		if l.MaxActionInstances != nil {
			v.MaxActionInstances = *l.MaxActionInstances
		}
		v.AllowedKinds, v.StoreActivations = l.AllowedKinds, l.StoreActivations
		if l.MaxParameterSize != "" {
			v.MaxParameterSize = l.MaxParameterSize
		}
	}
	return v
}

// getLimits answers GET /namespaces/{ns}/limits.
func (c *Controller) getLimits(w http.ResponseWriter, r *http.Request, id *identity) error {
	if r.Method != http.MethodGet {
		return errMethod(http.MethodGet)
	}
	writeJSON(w, http.StatusOK, c.namespaceLimits(id))
	return nil
}
