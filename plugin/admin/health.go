package admin

import (
	_ "embed"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fnmgr/fnmgr/plugin/httpapi"
)

// openAPIDoc is the OpenAPI 3 description of every route in the table.
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the embedded OpenAPI document.
func OpenAPI() []byte { return append([]byte(nil), openAPIDoc...) }

// status is the body of /healthz and /readyz.
type status struct {
	Status  string   `json:"status"`
	Reasons []string `json:"reasons,omitempty"`
	// Warnings say what the daemon runs without (no health pings, no
	// user events); they do not make it unready.
	Warnings []string `json:"warnings,omitempty"`
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, status{Status: "ok"})
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	var reasons []string
	if a.opts.Ready != nil {
		reasons = a.opts.Ready(r.Context())
	}
	var warnings []string
	if a.opts.Warnings != nil {
		warnings = a.opts.Warnings(r.Context())
	}
	if len(reasons) > 0 {
		httpapi.WriteJSON(w, http.StatusServiceUnavailable, status{Status: "not ready", Reasons: reasons, Warnings: warnings})
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, status{Status: "ready", Warnings: warnings})
}

func (a *API) metrics() http.HandlerFunc {
	return promhttp.HandlerFor(a.opts.Gatherer, promhttp.HandlerOpts{}).ServeHTTP
}

func (a *API) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDoc)
}
