package invoker

import (
	"encoding/json"
	"fmt"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// Limits are the deployment's ranges for action limits (whisk.memory,
// whisk.time-limit, whisk.log-limit, whisk.concurrency-limit): the
// namespace defaults unless the namespace's limits document sets its own.
// Zero fields take OpenWhisk's defaults (MinLogsMB is 0 by default).
type Limits struct {
	MinMemoryMB, MaxMemoryMB       int
	MinTimeoutMS, MaxTimeoutMS     int
	MinLogsMB, MaxLogsMB           int
	MinConcurrency, MaxConcurrency int
}

func (l Limits) withDefaults() Limits {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&l.MinMemoryMB, 128)
	def(&l.MaxMemoryMB, 512)
	def(&l.MinTimeoutMS, 100)
	def(&l.MaxTimeoutMS, 300000)
	def(&l.MaxLogsMB, 10)
	def(&l.MinConcurrency, 1)
	def(&l.MaxConcurrency, 1)
	return l
}

// forNamespace applies the limits document the activation message carries
// (Identity.limits, UserLimits in OpenWhisk) over the defaults.
func (l Limits) forNamespace(raw json.RawMessage) Limits {
	var ns entity.NamespaceLimits
	if len(raw) == 0 || json.Unmarshal(raw, &ns) != nil {
		return l
	}
	set := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	set(&l.MinMemoryMB, ns.MinActionMemory)
	set(&l.MaxMemoryMB, ns.MaxActionMemory)
	set(&l.MinTimeoutMS, ns.MinActionTimeout)
	set(&l.MaxTimeoutMS, ns.MaxActionTimeout)
	set(&l.MinLogsMB, ns.MinActionLogs)
	set(&l.MaxLogsMB, ns.MaxActionLogs)
	set(&l.MinConcurrency, ns.MinActionConcurrency)
	set(&l.MaxConcurrency, ns.MaxActionConcurrency)
	return l
}

// check is ActionLimits.checkLimits (OpenWhisk master 1fae641a2,
// common/scala/.../core/entity/Limits.scala and TimeLimit, MemoryLimit,
// ConcurrencyLimit, LogLimit checkNamespaceLimit): timeout, memory,
// concurrency, logs, in that order, each with Messages' threshold text.
// InvokerReactive turns the failure into an application error activation.
// (Older controllers, such as the image Helm 108f327 pins, refuse such a
// document when reading it instead; we follow master, as SPEC section 5 and
// issue #12 ask.)
func (l Limits) check(a entity.Limits) error {
	switch {
	case a.Timeout > l.MaxTimeoutMS:
		return fmt.Errorf("duration %d milliseconds exceeds allowed threshold of %d milliseconds", a.Timeout, l.MaxTimeoutMS)
	case a.Timeout < l.MinTimeoutMS:
		return fmt.Errorf("duration %d milliseconds below allowed threshold of %d milliseconds", a.Timeout, l.MinTimeoutMS)
	case a.Memory > l.MaxMemoryMB:
		return fmt.Errorf("memory size %d MB exceeds allowed threshold of %d MB", a.Memory, l.MaxMemoryMB)
	case a.Memory < l.MinMemoryMB:
		return fmt.Errorf("memory size %d MB below allowed threshold of %d MB", a.Memory, l.MinMemoryMB)
	case a.Concurrency != 0 && a.Concurrency > l.MaxConcurrency: // absent is 1

		return fmt.Errorf("concurrency %d exceeds allowed threshold of %d", a.Concurrency, l.MaxConcurrency)
	case a.Concurrency != 0 && a.Concurrency < l.MinConcurrency:
		return fmt.Errorf("concurrency %d below allowed threshold of %d", a.Concurrency, l.MinConcurrency)
	case a.Logs > l.MaxLogsMB:
		return fmt.Errorf("log size %d MB exceeds allowed threshold of %d MB", a.Logs, l.MaxLogsMB)
	case a.Logs < l.MinLogsMB:
		return fmt.Errorf("log size %d MB below allowed threshold of %d MB", a.Logs, l.MinLogsMB)
	}
	return nil
}
