package admin

import (
	"net/http"
	"regexp"
)

// Path templates. {fn} matches "name" or "package/name" (see the package
// doc); with the router matching encoded paths, "pkg%2Fname" is one segment.
const (
	functionsPath   = "/v1/namespaces/{ns}/functions"
	controllersPath = "/v1/controllers"
	fnPattern       = "{fn:[^/]+(?:/[^/]+)?}"
)

// route is one admin API route. The table below is the single source of
// the router, of the authentication policy and of the OpenAPI test.
type route struct {
	method string
	path   string // mux template, variables may carry a pattern
	op     string // the OpenAPI operationId
	public bool   // served without credentials
	admin  bool   // deployment-wide: the admin token only (403 for subject keys)
}

func fnRoute(method, sub, op string) route {
	return route{method: method, path: functionsPath + "/" + fnPattern + sub, op: op}
}

// routes lists every route of SPEC.md section 2, and the gateway's
// controller set (section 4). Order matters: mux takes
// the first match, so the sub-resources of a function come before the
// function itself (otherwise "pkg/versions" would be read as a function).
var routes = []route{
	{method: http.MethodGet, path: "/healthz", op: "healthz", public: true},
	{method: http.MethodGet, path: "/readyz", op: "readyz", public: true},
	{method: http.MethodGet, path: "/metrics", op: "metrics", public: true},
	{method: http.MethodGet, path: "/v1/openapi.json", op: "openapi", public: true},
	{method: http.MethodGet, path: "/v1/leader", op: "getLeader", public: true},

	{method: http.MethodGet, path: functionsPath, op: "listFunctions"},
	fnRoute(http.MethodGet, "/revisions", "listRevisions"),
	fnRoute(http.MethodPost, "/versions", "publishVersion"),
	fnRoute(http.MethodGet, "/versions", "listVersions"),
	fnRoute(http.MethodGet, "/versions/{n:[0-9]+}", "getVersion"),
	fnRoute(http.MethodDelete, "/versions/{n:[0-9]+}", "retireVersion"),
	fnRoute(http.MethodPut, "/aliases/{alias}", "putAlias"),
	fnRoute(http.MethodGet, "/aliases/{alias}", "getAlias"),
	fnRoute(http.MethodDelete, "/aliases/{alias}", "deleteAlias"),
	fnRoute(http.MethodPost, "/rollback", "rollbackFunction"),
	fnRoute(http.MethodPost, "/block", "blockFunction"),
	fnRoute(http.MethodPost, "/unblock", "unblockFunction"),
	fnRoute(http.MethodPost, "/update", "updateFunction"),
	fnRoute(http.MethodPost, "/retire", "retireFunction"),
	fnRoute(http.MethodGet, "/history", "getHistory"),
	fnRoute(http.MethodPut, "/config", "putConfig"),
	fnRoute(http.MethodPost, "/optimizations", "startOptimization"),
	fnRoute(http.MethodGet, "/optimizations", "listOptimizations"),
	fnRoute(http.MethodGet, "/optimizations/{id}/chart.svg", "getOptimizationChart"),
	fnRoute(http.MethodGet, "/optimizations/{id}", "getOptimization"),
	fnRoute(http.MethodDelete, "/optimizations/{id}", "cancelOptimization"),
	fnRoute(http.MethodGet, "", "getFunction"),

	{method: http.MethodGet, path: controllersPath, op: "listControllers", admin: true},
	{method: http.MethodPost, path: controllersPath, op: "addController", admin: true},
	{method: http.MethodDelete, path: controllersPath, op: "removeController", admin: true},
}

var varPatternRE = regexp.MustCompile(`\{(\w+):[^}]*\}`)

// template returns a mux template without its variables' patterns, as
// OpenAPI and the logs show it: "/v1/namespaces/{ns}/functions/{fn}".
func template(muxPath string) string {
	return varPatternRE.ReplaceAllString(muxPath, "{$1}")
}
