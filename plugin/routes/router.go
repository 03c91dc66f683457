package routes

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fnmgr/fnmgr/plugin/gateway"
	"github.com/fnmgr/fnmgr/plugin/registry"
)

// Resolver turns the caller's Basic credentials into their namespace, for
// paths that say "_". It must answer from memory on the hot path (a cache).
type Resolver func(ctx context.Context, uuid, key string) (string, error)

// Router is the gateway's decision hook: lifecycle refusals (423 for
// BLOCKED and UPDATING, 410 for RETIRED) on invocations of and writes to a
// function and its versions and aliases, and weighted routing of
// name@alias to name@N.
type Router struct {
	table   *Table
	resolve Resolver
}

// NewRouter returns a Router over table.
func NewRouter(table *Table, resolve Resolver) *Router {
	return &Router{table: table, resolve: resolve}
}

var _ gateway.Router = (*Router)(nil)

// target is the action a request addresses.
type target struct {
	ns, pkg, name string // name may carry @suffix
	invoke, write bool
	segments      []string // the escaped path, split on "/"
	nameIdx       int      // index of the segment holding the name
	ext           string   // web action extension, kept on rewrite
}

// Route implements gateway.Router.
func (rt *Router) Route(r *http.Request) gateway.Decision {
	t, ok := parse(r)
	if !ok {
		return gateway.Decision{}
	}
	if t.ns == "_" {
		uuid, key, ok := r.BasicAuth()
		if !ok || rt.resolve == nil {
			return gateway.Decision{}
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		ns, err := rt.resolve(ctx, uuid, key)
		cancel()
		if err != nil {
			return gateway.Decision{}
		}
		t.ns = ns
	}
	base, suffix, managed := registry.SplitManaged(t.name)
	if !managed {
		base = t.name
	}
	fn := base
	if t.pkg != "" {
		fn = t.pkg + "/" + base
	}
	e, ok := rt.table.Lookup(t.ns, fn)
	if !ok {
		return gateway.Decision{}
	}
	if !t.invoke && !t.write {
		return gateway.Decision{}
	}
	if d, refused := refusal(t.ns+"/"+fn, e.State); refused {
		return d
	}
	if !managed || !t.invoke {
		return gateway.Decision{}
	}
	routing, isAlias := e.Aliases[suffix]
	if !isAlias || len(routing) == 0 {
		return gateway.Decision{}
	}
	v := Pick(routing)
	segs := append([]string(nil), t.segments...)
	segs[t.nameIdx] = url.PathEscape(base+"@"+strconv.Itoa(v)) + t.ext
	return gateway.Decision{Path: strings.Join(segs, "/")}
}

func refusal(fqn string, s registry.State) (gateway.Decision, bool) {
	switch s {
	case registry.Blocked:
		return gateway.Decision{Status: http.StatusLocked,
			Message: fmt.Sprintf("Function %s is BLOCKED: its invocations and updates are refused until it is unblocked.", fqn)}, true
	case registry.Updating:
		return gateway.Decision{Status: http.StatusLocked,
			Message: fmt.Sprintf("Function %s is UPDATING: its invocations and updates are refused until the update ends.", fqn)}, true
	case registry.Retired:
		return gateway.Decision{Status: http.StatusGone,
			Message: fmt.Sprintf("Function %s is RETIRED and no longer runs.", fqn)}, true
	}
	return gateway.Decision{}, false
}

// parse recognises /api/v1/namespaces/{ns}/actions/[{pkg}/]{name} and
// /api/v1/web/{ns}/{pkg|default}/{name}[.ext][/...].
func parse(r *http.Request) (target, bool) {
	segs := strings.Split(r.URL.EscapedPath(), "/")
	// segs[0] is "" (leading slash).
	if len(segs) < 6 || segs[1] != "api" || segs[2] != "v1" {
		return target{}, false
	}
	un := func(i int) string {
		s, err := url.PathUnescape(segs[i])
		if err != nil {
			return segs[i]
		}
		return s
	}
	t := target{segments: segs}
	switch segs[3] {
	case "namespaces":
		if len(segs) < 7 || segs[5] != "actions" || len(segs) > 8 {
			return target{}, false
		}
		t.ns = un(4)
		if len(segs) == 8 {
			t.pkg, t.name, t.nameIdx = un(6), un(7), 7
		} else {
			t.name, t.nameIdx = un(6), 6
		}
		if t.name == "" {
			return target{}, false // a list
		}
		t.invoke = r.Method == http.MethodPost
		t.write = r.Method == http.MethodPut || r.Method == http.MethodDelete
	case "web":
		if len(segs) < 7 {
			return target{}, false
		}
		t.ns, t.nameIdx = un(4), 6
		if p := un(5); p != "default" {
			t.pkg = p
		}
		name := un(6)
		if i := strings.LastIndexByte(name, '.'); i > 0 {
			switch name[i:] {
			case ".json", ".http", ".html", ".svg", ".text":
				name, t.ext = name[:i], name[i:]
			}
		}
		t.name = name
		t.invoke = true
	default:
		return target{}, false
	}
	return t, true
}
