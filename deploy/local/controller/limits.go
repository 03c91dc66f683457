package controller

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// actionLimits are the ranges an action's limits must fall in for one
// namespace: the namespace limits document where it sets a field, else the
// system limits.
type actionLimits struct {
	MinMemory, MaxMemory           int
	MinTimeout, MaxTimeout         int
	MinLogs, MaxLogs               int
	MinConcurrency, MaxConcurrency int
}

// rangesFor returns the effective ranges for a namespace.
func rangesFor(sys Limits, ns *entity.NamespaceLimits) actionLimits {
	r := actionLimits{
		MinMemory: sys.MinMemoryMB, MaxMemory: sys.MaxMemoryMB,
		MinTimeout: sys.MinTimeoutMS, MaxTimeout: sys.MaxTimeoutMS,
		MinLogs: sys.MinLogsMB, MaxLogs: sys.MaxLogsMB,
		MinConcurrency: sys.MinConcurrency, MaxConcurrency: sys.MaxConcurrency,
	}
	if ns == nil {
		return r
	}
	set := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	set(&r.MinMemory, ns.MinActionMemory)
	set(&r.MaxMemory, ns.MaxActionMemory)
	set(&r.MinTimeout, ns.MinActionTimeout)
	set(&r.MaxTimeout, ns.MaxActionTimeout)
	set(&r.MinLogs, ns.MinActionLogs)
	set(&r.MaxLogs, ns.MaxActionLogs)
	set(&r.MinConcurrency, ns.MinActionConcurrency)
	set(&r.MaxConcurrency, ns.MaxActionConcurrency)
	return r
}

// check validates the limits a PUT sets (only the fields it sends, as
// OpenWhisk checks the content's limits) and returns the 400 text.
func (r actionLimits) check(p *entity.LimitsPut) error {
	if p == nil {
		return nil
	}
	if v := p.Timeout; v != nil {
		if *v > r.MaxTimeout {
			return badRequest(fmt.Sprintf("duration %d milliseconds exceeds allowed threshold of %d milliseconds", *v, r.MaxTimeout))
		}
		if *v < r.MinTimeout {
			return badRequest(fmt.Sprintf("duration %d milliseconds below allowed threshold of %d milliseconds", *v, r.MinTimeout))
		}
	}
	if v := p.Memory; v != nil {
		if *v > r.MaxMemory {
			return badRequest(fmt.Sprintf("memory size %d MB exceeds allowed threshold of %d MB", *v, r.MaxMemory))
		}
		if *v < r.MinMemory {
			return badRequest(fmt.Sprintf("memory size %d MB below allowed threshold of %d MB", *v, r.MinMemory))
		}
	}
	if v := p.Logs; v != nil {
		if *v > r.MaxLogs {
			return badRequest(fmt.Sprintf("log size %d MB exceeds allowed threshold of %d MB", *v, r.MaxLogs))
		}
		if *v < r.MinLogs {
			return badRequest(fmt.Sprintf("log size %d MB below allowed threshold of %d MB", *v, r.MinLogs))
		}
	}
	if v := p.Concurrency; v != nil {
		if *v > r.MaxConcurrency {
			return badRequest(fmt.Sprintf("concurrency %d exceeds allowed threshold of %d", *v, r.MaxConcurrency))
		}
		if *v < r.MinConcurrency {
			return badRequest(fmt.Sprintf("concurrency %d below allowed threshold of %d", *v, r.MinConcurrency))
		}
	}
	return nil
}

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
	r := rangesFor(sys, id.Limits)
	v := namespaceLimitsView{
		InvocationsPerMinute: sys.InvocationsPerMinute, ConcurrentInvocations: sys.ConcurrentInvocations,
		FiresPerMinute:  sys.FiresPerMinute,
		MinActionMemory: r.MinMemory, MaxActionMemory: r.MaxMemory,
		MinActionLogs: r.MinLogs, MaxActionLogs: r.MaxLogs,
		MinActionTimeout: r.MinTimeout, MaxActionTimeout: r.MaxTimeout,
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
