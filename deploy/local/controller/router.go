package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
)

// maxPutBytes bounds an entity PUT (OpenWhisk allows 48 MB of code).
const maxPutBytes = 50 << 20

// ServeHTTP routes the controller's API.
func (c *Controller) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tid := r.Header.Get("X-Request-ID")
	if tid == "" || strings.HasPrefix(tid, "sid_") {
		tid = newTID()
	}
	r = r.WithContext(withTID(r.Context(), tid))
	w.Header().Set("X-Request-ID", tid)
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			c.log.Error("handler panicked", "panic", fmt.Sprint(p), "path", r.URL.Path, "stack", string(debug.Stack()))
			writeError(w, r, errInternal)
		}
	}()
	if err := c.route(w, r); err != nil {
		if errors.Is(err, context.Canceled) && c.runCtx != nil && c.runCtx.Err() != nil {
			err = errStatus(http.StatusServiceUnavailable, msgUnavailable) // shutting down
		}
		if ae := asAPIError(err); ae.status >= 500 {
			c.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "tid", tid, "err", err)
		}
		writeError(w, r, err)
	}
}

func (c *Controller) route(w http.ResponseWriter, r *http.Request) error {
	segs, err := segments(r.URL.EscapedPath())
	if err != nil {
		return errStatus(http.StatusNotFound, msgNoRouteFound)
	}
	switch {
	case len(segs) == 0 || (len(segs) == 1 && segs[0] == ""):
		return c.rootInfo(w, r)
	case len(segs) == 1 && segs[0] == "ping":
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		_, _ = io.WriteString(w, "pong")
		return nil
	case len(segs) < 2 || segs[0] != "api" || segs[1] != "v1":
		return errStatus(http.StatusNotFound, msgNoRouteFound)
	}
	rest := segs[2:]
	if len(rest) == 0 || rest[0] != "web" {
		// The REST API answers CORS like OpenWhisk's (CorsSettings.RestAPI).
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Headers", "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent")
		h.Set("Access-Control-Allow-Methods", "GET, DELETE, POST, PUT, HEAD")
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusOK)
			return nil
		}
	}
	switch {
	case len(rest) == 0 || (len(rest) == 1 && rest[0] == ""):
		return c.apiInfo(w, r)
	case rest[0] == "api-docs" && len(rest) == 1:
		return c.apiDocs(w, r)
	case rest[0] == "web":
		return c.webAction(w, r, rest[1:])
	case rest[0] == "namespaces":
		id, err := c.authenticate(r)
		if err != nil {
			return err
		}
		return c.namespaces(w, r, id, rest[1:])
	}
	return errStatus(http.StatusNotFound, msgNoRouteFound)
}

// namespaces routes /api/v1/namespaces[/{ns}/{collection}/...].
func (c *Controller) namespaces(w http.ResponseWriter, r *http.Request, id *identity, rest []string) error {
	if len(rest) == 0 || (len(rest) == 1 && rest[0] == "") {
		if r.Method != http.MethodGet {
			return errMethod(http.MethodGet)
		}
		writeJSON(w, http.StatusOK, []string{id.Namespace})
		return nil
	}
	if len(rest) < 2 || rest[1] == "" {
		return errStatus(http.StatusNotFound, msgNoRouteFound)
	}
	collection, sub := rest[1], rest[2:]
	ns, err := resolveNamespace(id, rest[0], func(ns string) string {
		if len(sub) > 0 && sub[0] != "" {
			return ns + "/" + strings.Join(trimEmpty(sub), "/")
		}
		return ns
	})
	if err != nil {
		return err
	}
	switch collection {
	case "actions":
		return c.actions(w, r, id, ns, sub)
	case "packages":
		return c.packages(w, r, id, ns, sub)
	case "triggers":
		return c.triggers(w, r, id, ns, sub)
	case "rules":
		return c.rules(w, r, id, ns, sub)
	case "activations":
		return c.activationsAPI(w, r, id, ns, sub)
	case "limits":
		if len(sub) > 0 {
			return errStatus(http.StatusNotFound, msgNoRouteFound)
		}
		return c.getLimits(w, r, id)
	}
	return errStatus(http.StatusNotFound, msgNoRouteFound)
}

// segments splits an escaped path into unescaped segments ("/a/b/" gives
// a, b, "" so a trailing slash stays visible).
func segments(escaped string) ([]string, error) {
	p := strings.TrimPrefix(escaped, "/")
	if p == "" {
		return nil, nil
	}
	parts := strings.Split(p, "/")
	for i, s := range parts {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, err
		}
		parts[i] = u
	}
	return parts, nil
}

func trimEmpty(s []string) []string {
	out := s[:0:0]
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// errMethod is pekko's 405.
func errMethod(allowed ...string) error {
	return errStatus(http.StatusMethodNotAllowed, "HTTP method not allowed, supported methods: "+strings.Join(allowed, ", "))
}

// readBody reads a JSON request body of at most limit bytes; field names the
// request in the 413 text. An absent body returns nil.
func readBody(r *http.Request, limit int64, field string) (json.RawMessage, error) {
	if r.Body == nil || r.ContentLength == 0 {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, errStatus(http.StatusRequestEntityTooLarge, msgEntityTooBig(field, r.ContentLength, limit))
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, badRequest(msgMalformedBody("Failed extracting request body."))
	}
	if int64(len(b)) > limit {
		return nil, errStatus(http.StatusRequestEntityTooLarge, msgEntityTooBig(field, int64(len(b)), limit))
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	if mt != "application/json" {
		shown := ""
		if ct != "" {
			shown = " [" + ct + "]"
		}
		return nil, errStatus(http.StatusUnsupportedMediaType,
			"The request's Content-Type"+shown+" is not supported. Expected:\napplication/json")
	}
	if !json.Valid(b) {
		return nil, badRequest(msgMalformedBody("Unexpected end-of-input or invalid JSON"))
	}
	return b, nil
}

// decodeBody reads a required JSON body into v.
func decodeBody(r *http.Request, v any) error {
	b, err := readBody(r, maxPutBytes, "Request")
	if err != nil {
		return err
	}
	if b == nil {
		return badRequest("Request entity expected but not supplied")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return badRequest(msgMalformedBody(err.Error()))
	}
	return nil
}

// queryBool parses a boolean query parameter as pekko does.
func queryBool(r *http.Request, name string, def bool) (bool, error) {
	v, ok := r.URL.Query()[name]
	if !ok || len(v) == 0 {
		return def, nil
	}
	switch strings.ToLower(v[0]) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, badRequest(msgMalformedQuery(name, fmt.Sprintf("'%s' is not a valid Boolean value", v[0])))
}
