// Package limits holds the ranges an action's limits must fall in (OpenWhisk's
// whisk.memory, whisk.time-limit, whisk.log-limit and
// whisk.concurrency-limit), a namespace's limits document applied over them,
// and the two checks OpenWhisk makes against them: the controller's on a PUT
// and the invoker's before an activation runs. The controller and the
// invoker of the local stack share it; it knows nothing of fnmgr.
package limits

import (
	"fmt"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// Ranges are the deployment's ranges for action limits, or a namespace's
// once its limits document is applied (For). Zero fields take OpenWhisk's
// defaults through WithDefaults (MinLogsMB is 0 by default).
type Ranges struct {
	MinMemoryMB, MaxMemoryMB       int
	MinTimeoutMS, MaxTimeoutMS     int
	MinLogsMB, MaxLogsMB           int
	MinConcurrency, MaxConcurrency int
}

// WithDefaults fills zero fields with OpenWhisk's defaults
// (common/scala/src/main/resources/application.conf: whisk.memory
// 128m..512m, whisk.time-limit 100ms..5m, whisk.log-limit 0m..10m,
// whisk.concurrency-limit 1..1).
func (r Ranges) WithDefaults() Ranges {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&r.MinMemoryMB, 128)
	def(&r.MaxMemoryMB, 512)
	def(&r.MinTimeoutMS, 100)
	def(&r.MaxTimeoutMS, 300000)
	def(&r.MaxLogsMB, 10)
	def(&r.MinConcurrency, 1)
	def(&r.MaxConcurrency, 1)
	return r
}

// For returns the ranges of a namespace: each field its limits document sets
// (UserLimits' minActionMemory, maxActionMemory, …), else r's. A nil
// document leaves r as it is.
func (r Ranges) For(ns *entity.NamespaceLimits) Ranges {
	if ns == nil {
		return r
	}
	set := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	set(&r.MinMemoryMB, ns.MinActionMemory)
	set(&r.MaxMemoryMB, ns.MaxActionMemory)
	set(&r.MinTimeoutMS, ns.MinActionTimeout)
	set(&r.MaxTimeoutMS, ns.MaxActionTimeout)
	set(&r.MinLogsMB, ns.MinActionLogs)
	set(&r.MaxLogsMB, ns.MaxActionLogs)
	set(&r.MinConcurrency, ns.MinActionConcurrency)
	set(&r.MaxConcurrency, ns.MaxActionConcurrency)
	return r
}

// Check is ActionLimits.checkLimits (OpenWhisk master 1fae641a2,
// common/scala/src/main/scala/org/apache/openwhisk/core/entity/Limits.scala),
// which the invoker runs before an activation: timeout, memory, concurrency,
// logs, in that order, each with Messages' threshold text. A concurrency of 0
// is a document without one (1), and passes.
func (r Ranges) Check(a entity.Limits) error {
	if err := r.timeout(a.Timeout); err != nil {
		return err
	}
	if err := r.memory(a.Memory); err != nil {
		return err
	}
	if a.Concurrency != 0 {
		if err := r.concurrency(a.Concurrency); err != nil {
			return err
		}
	}
	return r.logs(a.Logs)
}

// CheckPut is the controller's checkActionLimits (OpenWhisk master
// 1fae641a2, core/controller/src/main/scala/org/apache/openwhisk/core/
// controller/Actions.scala): only the limits a PUT sends, memory, timeout,
// logs, concurrency, in that order. The controller answers the error's text
// with 400.
func (r Ranges) CheckPut(p *entity.LimitsPut) error {
	if p == nil {
		return nil
	}
	for _, c := range []struct {
		v     *int
		check func(int) error
	}{{p.Memory, r.memory}, {p.Timeout, r.timeout}, {p.Logs, r.logs}, {p.Concurrency, r.concurrency}} {
		if c.v == nil {
			continue
		}
		if err := c.check(*c.v); err != nil {
			return err
		}
	}
	return nil
}

// The field checks are each limit's checkNamespaceLimit (TimeLimit.scala,
// MemoryLimit.scala, LogLimit.scala, IntraConcurrencyLimit.scala) with the
// texts of OpenWhisk's Messages
// (common/scala/src/main/scala/org/apache/openwhisk/http/ErrorResponse.scala).

func (r Ranges) timeout(ms int) error {
	return within("duration", ms, r.MinTimeoutMS, r.MaxTimeoutMS, " milliseconds")
}

func (r Ranges) memory(mb int) error {
	return within("memory size", mb, r.MinMemoryMB, r.MaxMemoryMB, " MB")
}

func (r Ranges) logs(mb int) error { return within("log size", mb, r.MinLogsMB, r.MaxLogsMB, " MB") }

func (r Ranges) concurrency(n int) error {
	return within("concurrency", n, r.MinConcurrency, r.MaxConcurrency, "")
}

// within checks lo <= v <= hi with Messages' texts
// (sizeExceedsAllowedThreshold and the like), e.g. "memory size 1024 MB
// exceeds allowed threshold of 512 MB".
func within(what string, v, lo, hi int, unit string) error {
	switch {
	case v > hi:
		return fmt.Errorf("%s %d%s exceeds allowed threshold of %d%s", what, v, unit, hi, unit)
	case v < lo:
		return fmt.Errorf("%s %d%s below allowed threshold of %d%s", what, v, unit, lo, unit)
	}
	return nil
}
