package admin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/fnmgr/fnmgr/plugin/httpapi"
)

// ownNamespace in a path means the caller's own namespace, as in OpenWhisk.
const ownNamespace = "_"

type namespaceKey struct{}

// NamespaceFrom returns the namespace of the request's path, with "_"
// resolved to the caller's own, once authentication has passed.
func NamespaceFrom(ctx context.Context) string {
	ns, _ := ctx.Value(namespaceKey{}).(string)
	return ns
}

// authenticate admits a request whose credentials reach the {ns} of its
// path: 401 without valid credentials, 403 for a namespace they do not
// reach. It never logs or echoes the credentials.
func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, status, msg := a.identify(r)
		if status != 0 {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Basic realm="fnmgr"`)
			}
			httpapi.WriteError(w, r, status, msg)
			return
		}
		ns, err := pathVar(r, "ns")
		if err != nil {
			httpapi.WriteError(w, r, http.StatusBadRequest, err.Error()+".")
			return
		}
		if ns == ownNamespace {
			if id.Admin {
				httpapi.WriteError(w, r, http.StatusBadRequest,
					"The namespace '_' means the caller's own namespace, which the admin token does not have; name the namespace.")
				return
			}
			ns = id.Namespace
		}
		if ns != "" && !id.Entitled(ns) {
			httpapi.WriteError(w, r, http.StatusForbidden,
				fmt.Sprintf("The supplied authentication is not authorized to access '%s'.", ns))
			return
		}
		ctx := context.WithValue(withIdentity(r.Context(), id), namespaceKey{}, ns)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// identify resolves the Authorization header. A non-zero status is the
// refusal to answer with msg.
func (a *API) identify(r *http.Request) (id Identity, status int, msg string) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return id, http.StatusUnauthorized,
			"The request needs credentials: Authorization: Basic with an OpenWhisk key (uuid:key), or Bearer with the admin token."
	}
	const invalid = "The supplied authentication is invalid."
	scheme, cred, _ := strings.Cut(h, " ")
	switch strings.ToLower(scheme) {
	case "bearer":
		tok := strings.TrimSpace(cred)
		if a.opts.AdminToken == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(a.opts.AdminToken)) != 1 {
			return id, http.StatusUnauthorized, invalid
		}
		return Identity{Admin: true}, 0, ""
	case "basic":
		uuid, key, ok := r.BasicAuth()
		if !ok || uuid == "" || key == "" {
			return id, http.StatusUnauthorized, invalid
		}
		id, err := a.opts.Authenticator.Authenticate(r.Context(), uuid, key)
		switch {
		case err == nil:
			return id, 0, ""
		case errors.Is(err, ErrUnauthenticated):
			return id, http.StatusUnauthorized, invalid
		case r.Context().Err() != nil:
			return id, http.StatusServiceUnavailable, "The request was cancelled while checking its credentials."
		default:
			a.log.ErrorContext(r.Context(), "authenticate", "err", err, "request_id", httpapi.RequestID(r.Context()))
			return id, http.StatusServiceUnavailable,
				"The credentials cannot be checked right now (the subjects database does not answer); try again shortly."
		}
	default:
		return id, http.StatusUnauthorized,
			"The authorization scheme is not supported: use Basic with an OpenWhisk key or Bearer with the admin token."
	}
}
