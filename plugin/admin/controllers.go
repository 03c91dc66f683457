package admin

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/fnmgr/fnmgr/plugin/gateway"
	"github.com/fnmgr/fnmgr/plugin/httpapi"
)

// Controllers is the gateway's set of OpenWhisk controllers, as the admin
// API lists and changes it (*gateway.Gateway implements it). Changes take
// effect at once, and calls in flight finish where they are.
type Controllers interface {
	// Controllers lists the controllers with their health.
	Controllers() []gateway.Status
	// AddController adds one; gateway.ErrControllerExists when present,
	// gateway.ErrInvalidController for what cannot be a controller URL.
	AddController(u *url.URL) error
	// RemoveController removes one; gateway.ErrUnknownController when
	// absent, gateway.ErrNoController for the last one.
	RemoveController(u *url.URL) error
}

// controllerList is the body of every /v1/controllers answer.
type controllerList struct {
	Controllers []gateway.Status `json:"controllers"`
}

// controllerRequest is the body of POST /v1/controllers.
type controllerRequest struct {
	URL string `json:"url"`
}

func controllerOps(a *API, cs Controllers) map[string]http.HandlerFunc {
	list := func(w http.ResponseWriter, status int) {
		httpapi.WriteJSON(w, status, controllerList{Controllers: cs.Controllers()})
	}
	return map[string]http.HandlerFunc{
		"listControllers": func(w http.ResponseWriter, r *http.Request) { list(w, http.StatusOK) },
		"addController": func(w http.ResponseWriter, r *http.Request) {
			var req controllerRequest
			if !a.decodeBody(w, r, &req) {
				return
			}
			u, ok := controllerURL(w, r, req.URL)
			if !ok {
				return
			}
			if err := cs.AddController(u); err != nil {
				controllerError(w, r, u, err)
				return
			}
			a.log.InfoContext(r.Context(), "controller added through the admin API", "controller", u.Redacted(),
				"request_id", httpapi.RequestID(r.Context()))
			list(w, http.StatusCreated)
		},
		"removeController": func(w http.ResponseWriter, r *http.Request) {
			u, ok := controllerURL(w, r, r.URL.Query().Get("url"))
			if !ok {
				return
			}
			if err := cs.RemoveController(u); err != nil {
				controllerError(w, r, u, err)
				return
			}
			a.log.InfoContext(r.Context(), "controller removed through the admin API", "controller", u.Redacted(),
				"request_id", httpapi.RequestID(r.Context()))
			list(w, http.StatusOK)
		},
	}
}

// controllerURL parses a controller's base URL (a trailing slash is
// dropped); on failure it answers 400.
func controllerURL(w http.ResponseWriter, r *http.Request, raw string) (*url.URL, bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		httpapi.WriteError(w, r, http.StatusBadRequest,
			"Name the controller by its base URL, such as http://127.0.0.1:3233 (in the body's url field, or the url query parameter to remove one).")
		return nil, false
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		httpapi.WriteError(w, r, http.StatusBadRequest,
			"The controller URL must be an absolute http or https URL, such as http://127.0.0.1:3233.")
		return nil, false
	}
	return u, true
}

func controllerError(w http.ResponseWriter, r *http.Request, u *url.URL, err error) {
	switch {
	case errors.Is(err, gateway.ErrInvalidController):
		httpapi.WriteError(w, r, http.StatusBadRequest,
			"The controller URL must be an absolute http or https URL without query, such as http://127.0.0.1:3233.")
	case errors.Is(err, gateway.ErrControllerExists):
		httpapi.WriteError(w, r, http.StatusConflict, fmt.Sprintf("The controller %s is already in the gateway's set.", u.Redacted()))
	case errors.Is(err, gateway.ErrUnknownController):
		httpapi.WriteError(w, r, http.StatusNotFound, fmt.Sprintf("The controller %s is not in the gateway's set.", u.Redacted()))
	case errors.Is(err, gateway.ErrNoController):
		httpapi.WriteError(w, r, http.StatusConflict,
			fmt.Sprintf("The controller %s is the gateway's last one; add another before removing it.", u.Redacted()))
	default:
		httpapi.WriteError(w, r, http.StatusInternalServerError, "The controller set could not be changed.")
	}
}

// adminOnly admits requests made with the admin token: the controller set
// is the deployment's, not a namespace's. It runs after authenticate.
func adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, _ := IdentityFrom(r.Context()); !id.Admin {
			httpapi.WriteError(w, r, http.StatusForbidden,
				"Only the admin token (Authorization: Bearer) may see or change the gateway's controllers.")
			return
		}
		next.ServeHTTP(w, r)
	})
}
