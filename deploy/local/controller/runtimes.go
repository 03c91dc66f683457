package controller

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// runtimes indexes the offered kinds (OpenWhisk's ExecManifest).
type runtimes struct {
	list     []Runtime
	byKind   map[string]Runtime
	defaults map[string]string // family → default kind
}

func newRuntimes(list []Runtime) (runtimes, error) {
	rt := runtimes{list: list, byKind: map[string]Runtime{}, defaults: map[string]string{}}
	for _, r := range list {
		fam, ver, ok := strings.Cut(r.Kind, ":")
		if !ok || fam == "" || ver == "" || ver == "default" {
			return rt, fmt.Errorf("controller: runtime kind %q must be <family>:<version>", r.Kind)
		}
		if _, dup := rt.byKind[r.Kind]; dup {
			return rt, fmt.Errorf("controller: runtime kind %q listed twice", r.Kind)
		}
		rt.byKind[r.Kind] = r
		if r.Default {
			if d, dup := rt.defaults[fam]; dup {
				return rt, fmt.Errorf("controller: runtimes %q and %q are both the default of %s", d, r.Kind, fam)
			}
			rt.defaults[fam] = r.Kind
		}
	}
	// A family without an explicit default takes its first kind.
	for _, r := range list {
		fam := entity.Family(r.Kind)
		if _, ok := rt.defaults[fam]; !ok {
			rt.defaults[fam] = r.Kind
		}
	}
	return rt, nil
}

// resolve maps a client's kind ("nodejs:default" included) to an offered
// kind, or returns the deserialization error OpenWhisk gives.
func (rt runtimes) resolve(kind string) (string, error) {
	switch kind {
	case entity.KindSequence, entity.KindBlackbox:
		return kind, nil
	}
	if fam, ver, ok := strings.Cut(kind, ":"); ok && ver == "default" {
		if d, ok := rt.defaults[fam]; ok {
			return d, nil
		}
	}
	if r, ok := rt.byKind[kind]; ok {
		if r.Deprecated {
			return "", badRequest(fmt.Sprintf("The '%s' runtime is no longer supported. You may read and delete but not update or invoke this action.", kind))
		}
		return kind, nil
	}
	kinds := make([]string, 0, len(rt.byKind))
	for k := range rt.byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return "", badRequest(msgMalformedBody(fmt.Sprintf("kind '%s' not in Set(%s)", kind, strings.Join(kinds, ", "))))
}

// info returns the runtimes block of GET /.
func (rt runtimes) info() map[string][]entity.RuntimeInfo {
	out := map[string][]entity.RuntimeInfo{}
	for _, r := range rt.list {
		fam := entity.Family(r.Kind)
		out[fam] = append(out[fam], entity.RuntimeInfo{Kind: r.Kind, Image: r.Image, Deprecated: r.Deprecated,
			Default: rt.defaults[fam] == r.Kind, Attached: true, RequireMain: r.RequireMain})
	}
	return out
}
