package routes

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fnmgr/fnmgr/plugin/gateway"
	"github.com/fnmgr/fnmgr/plugin/registry"
)

// Resolver turns the caller's Basic credentials into their own namespace
// (what "_" means) and every namespace they may act in. It must answer from
// memory on the hot path (a cache).
type Resolver func(ctx context.Context, uuid, key string) (own string, entitled []string, err error)

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
	// path is the escaped path; the name's segment (with a web action's
	// extension) is path[nameStart:nameEnd].
	path               string
	nameStart, nameEnd int
	ext                string // web action extension, kept on rewrite
	web                bool   // a web action: public, no credentials
}

// Route implements gateway.Router. It reads the table's current snapshot
// without locking, and calls the Resolver only for a path on the caller's
// own namespace "_" that names a function the table may act on.
func (rt *Router) Route(r *http.Request) gateway.Decision {
	t, ok := parse(r)
	if !ok || (!t.invoke && !t.write) {
		return gateway.Decision{}
	}
	base, suffix, managed := registry.SplitManaged(t.name)
	if !managed {
		base = t.name
	}
	fn := base
	if t.pkg != "" {
		fn = t.pkg + "/" + base
	}
	if t.ns == "_" && !rt.table.decisive(fn) {
		return gateway.Decision{} // whoever calls, nothing to refuse or route
	}
	if t.ns != "_" {
		if _, ok := rt.table.Lookup(t.ns, fn); !ok {
			return gateway.Decision{}
		}
	}
	// The gateway acts only for callers entitled to the namespace (web
	// actions are public): anyone else gets the controller's own 401 or
	// 403, and learns nothing of another namespace's functions.
	if t.ns == "_" || !t.web {
		uuid, key, ok := r.BasicAuth()
		if !ok || rt.resolve == nil {
			return gateway.Decision{}
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		own, entitled, err := rt.resolve(ctx, uuid, key)
		cancel()
		if err != nil {
			return gateway.Decision{}
		}
		if t.ns == "_" {
			t.ns = own
		}
		if !t.web && !slices.Contains(entitled, t.ns) {
			return gateway.Decision{}
		}
	}
	e, ok := rt.table.Lookup(t.ns, fn)
	if !ok {
		return gateway.Decision{}
	}
	if d, refused := refusal(t.ns, fn, e.State); refused {
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
	return gateway.Decision{Path: t.path[:t.nameStart] + url.PathEscape(base+"@"+strconv.Itoa(v)) + t.ext + t.path[t.nameEnd:]}
}

func refusal(ns, fn string, s registry.State) (gateway.Decision, bool) {
	switch s {
	case registry.Blocked:
		return gateway.Decision{Status: http.StatusLocked,
			Message: fmt.Sprintf("Function %s/%s is BLOCKED: its invocations and updates are refused until it is unblocked.", ns, fn)}, true
	case registry.Updating:
		return gateway.Decision{Status: http.StatusLocked,
			Message: fmt.Sprintf("Function %s/%s is UPDATING: its invocations and updates are refused until the update ends.", ns, fn)}, true
	case registry.Retired:
		return gateway.Decision{Status: http.StatusGone,
			Message: fmt.Sprintf("Function %s/%s is RETIRED and no longer runs.", ns, fn)}, true
	}
	return gateway.Decision{}, false
}

// parse recognises /api/v1/namespaces/{ns}/actions/[{pkg}/]{name} and
// /api/v1/web/{ns}/{pkg|default}/{name}[.ext][/...], without allocating
// for paths without escapes.
func parse(r *http.Request) (target, bool) {
	const v1 = "/api/v1/"
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, v1) {
		return target{}, false
	}
	kind, rest, ok := strings.Cut(p[len(v1):], "/")
	if !ok {
		return target{}, false
	}
	off := len(v1) + len(kind) + 1 // where rest starts in p
	t := target{path: p}
	switch kind {
	case "namespaces":
		ns, rest, ok := strings.Cut(rest, "/")
		if !ok {
			return target{}, false
		}
		coll, rest, ok := strings.Cut(rest, "/")
		if !ok || coll != "actions" {
			return target{}, false
		}
		off += len(ns) + len(coll) + 2
		nameSeg := rest
		if pkg, name, ok := strings.Cut(rest, "/"); ok {
			if strings.IndexByte(name, '/') >= 0 {
				return target{}, false
			}
			t.pkg, nameSeg = unescape(pkg), name
			off += len(pkg) + 1
		}
		t.ns, t.name = unescape(ns), unescape(nameSeg)
		t.nameStart, t.nameEnd = off, off+len(nameSeg)
		if t.name == "" {
			return target{}, false // a list
		}
		t.invoke = r.Method == http.MethodPost
		t.write = r.Method == http.MethodPut || r.Method == http.MethodDelete
	case "web":
		t.web = true
		ns, rest, ok := strings.Cut(rest, "/")
		if !ok {
			return target{}, false
		}
		pkg, rest, ok := strings.Cut(rest, "/")
		if !ok {
			return target{}, false
		}
		nameSeg, _, _ := strings.Cut(rest, "/")
		off += len(ns) + len(pkg) + 2
		t.ns = unescape(ns)
		if pkg := unescape(pkg); pkg != "default" {
			t.pkg = pkg
		}
		t.nameStart, t.nameEnd = off, off+len(nameSeg)
		name := unescape(nameSeg)
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

// unescape decodes one path segment; a malformed one stays as it is.
func unescape(s string) string {
	d, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return d
}
