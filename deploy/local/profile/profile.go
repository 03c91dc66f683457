// Package profile holds the deployment profiles of the local stack (SPEC.md
// section 5): which real OpenWhisk deployment its OpenWhisk-compatible parts
// play. Each value says where it comes from:
//
//   - helm: apache/openwhisk-deploy-kube commit
//     108f327580f04c51dc4b29ac0beff024cfd6f2f9, helm/openwhisk/values.yaml
//     (whisk.limits: actionsInvokesPerminute 60, actionsInvokesConcurrent
//     30, triggersFiresPerminute 60, actions.memory 128m/256m/512m;
//     whisk.containerPool.userMemory 2048m; metrics.userMetricsEnabled
//     false) and helm/openwhisk/runtimes.json (helm-runtimes.json here, a
//     verbatim copy). Its invokers run with docker --cpu-shares (no
//     user-cpus).
//   - scheduler: apache/openwhisk master commit
//     1fae641a2b30bccb7ddc69d2d215866d899a8510, ansible/group_vars/all
//     (limits.invocationsPerMinute 60, concurrentInvocations 30,
//     firesPerMinute 60; invoker.userMemory 2048m, userCpus empty;
//     user_events false; enable_scheduler true),
//     common/scala/src/main/resources/application.conf (whisk.memory
//     128m/256m/512m) and ansible/files/runtimes.json (ansible-runtimes.json
//     here, verbatim). The scheduler has no health pings, and its
//     FPCPoolBalancer shares activation counts across controllers
//     (Entitlement.scala activationThrottleCalculator).
//   - default: the local stack as it always was: nodejs:20 and python:3,
//     OpenWhisk's default limits and throttles, a CFS quota per action
//     (container-pool.user-cpus), pings and user events on, and the seeded
//     guest namespace raised for development.
package profile

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/fnmgr/fnmgr/deploy/local/controller"
	"github.com/fnmgr/fnmgr/deploy/local/limits"
)

// Profile names.
const (
	Default   = "default"
	Helm      = "helm"
	Scheduler = "scheduler"
)

// Names lists the profiles.
var Names = []string{Default, Helm, Scheduler}

//go:embed helm-runtimes.json
var helmRuntimes []byte

//go:embed ansible-runtimes.json
var ansibleRuntimes []byte

// GuestThrottles raise the seeded guest namespace's throttles through its
// limits document (<namespace>/limits in the subjects database), as
// `wskadmin limits set guest --invocationsPerMinute … --concurrentInvocations
// …` writes it.
type GuestThrottles struct {
	InvocationsPerMinute  int
	ConcurrentInvocations int
}

// Profile is one deployment the OpenWhisk-compatible parts play.
type Profile struct {
	Name string
	// Runtimes offered (GET /), the kinds an action document may name.
	Runtimes []controller.Runtime
	// Limits are the system limits and throttles of every controller.
	Limits controller.Limits
	// UserMemoryMB is each invoker's whisk.containerPool.userMemory.
	UserMemoryMB int
	// CPUShares: actions get cpu shares ∝ memory (docker --cpu-shares,
	// OpenWhisk's default); otherwise a CFS quota ∝ memory (user-cpus).
	CPUShares bool
	// HealthPings: invokers ping "health" every second.
	HealthPings bool
	// UserEvents: controllers and invokers publish user events on "events".
	UserEvents bool
	// Guest, when set, raises the seeded guest namespace's throttles.
	Guest *GuestThrottles
}

// owLimits are the limits and throttles the three profiles share (Helm's
// values.yaml and ansible's group_vars/all agree, and they are OpenWhisk's
// application.conf defaults).
func owLimits() controller.Limits {
	return controller.Limits{
		Ranges:               limits.Ranges{MinMemoryMB: 128, MaxMemoryMB: 512},
		StdMemoryMB:          256,
		InvocationsPerMinute: 60, ConcurrentInvocations: 30, FiresPerMinute: 60,
	}
}

// Get returns the named profile ("" is Default).
func Get(name string) (Profile, error) {
	p := Profile{Name: name, Limits: owLimits(), UserMemoryMB: 2048}
	switch name {
	case Default, "":
		p.Name = Default
		p.Runtimes = controller.DefaultRuntimes()
		p.HealthPings, p.UserEvents = true, true
		p.Guest = &GuestThrottles{InvocationsPerMinute: 100000, ConcurrentInvocations: 1000}
	case Helm:
		rts, err := ParseRuntimes(helmRuntimes)
		if err != nil {
			return Profile{}, fmt.Errorf("profile helm: %w", err)
		}
		p.Runtimes, p.CPUShares, p.HealthPings = rts, true, true
	case Scheduler:
		rts, err := ParseRuntimes(ansibleRuntimes)
		if err != nil {
			return Profile{}, fmt.Errorf("profile scheduler: %w", err)
		}
		p.Runtimes, p.CPUShares = rts, true
		p.Limits.SharedConcurrency = true
	default:
		return Profile{}, fmt.Errorf("unknown profile %q (want one of %s)", name, strings.Join(Names, ", "))
	}
	return p, nil
}

// Kinds lists the kinds p offers.
func (p Profile) Kinds() []string {
	out := make([]string, len(p.Runtimes))
	for i, r := range p.Runtimes {
		out[i] = r.Kind
	}
	return out
}

// manifest is OpenWhisk's runtimes manifest (runtimes.json): runtimes by
// family; blackboxes and the rest are not kinds.
type manifest struct {
	Runtimes map[string][]struct {
		Kind       string `json:"kind"`
		Default    bool   `json:"default"`
		Deprecated bool   `json:"deprecated"`
		Image      struct {
			Prefix string `json:"prefix"`
			Name   string `json:"name"`
			Tag    string `json:"tag"`
		} `json:"image"`
		RequireMain bool `json:"requireMain"`
	} `json:"runtimes"`
}

// ParseRuntimes reads a runtimes manifest into the controller's runtimes,
// families in name order, kinds in the file's order.
func ParseRuntimes(b []byte) ([]controller.Runtime, error) {
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("runtimes manifest: %w", err)
	}
	fams := make([]string, 0, len(m.Runtimes))
	for f := range m.Runtimes {
		fams = append(fams, f)
	}
	sort.Strings(fams)
	var out []controller.Runtime
	for _, f := range fams {
		for _, r := range m.Runtimes[f] {
			img := r.Image.Name
			if r.Image.Prefix != "" {
				img = r.Image.Prefix + "/" + img
			}
			if r.Image.Tag != "" {
				img += ":" + r.Image.Tag
			}
			out = append(out, controller.Runtime{Kind: r.Kind, Image: img, Default: r.Default,
				Deprecated: r.Deprecated, RequireMain: r.RequireMain})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("runtimes manifest lists no runtime")
	}
	return out, nil
}
