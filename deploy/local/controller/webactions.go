package controller

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// Web action extensions; a name without one is ".http".
var webExtensions = []string{".http", ".json", ".html", ".svg", ".text"}

// webReserved are the __ow_* properties a request may not set.
var webReserved = []string{"__ow_method", "__ow_headers", "__ow_path", "__ow_user", "__ow_query", "__ow_body"}

// webAction answers ANY /api/v1/web/{ns}/{pkg|default}/{name}[.ext][/path]
// (WhiskWebActionsApi): no authentication needed, web-export required.
func (c *Controller) webAction(w http.ResponseWriter, r *http.Request, rest []string) error {
	switch r.Method {
	case http.MethodGet, http.MethodDelete, http.MethodPost, http.MethodPut, http.MethodHead, http.MethodOptions, http.MethodPatch:
	default:
		return errMethod(http.MethodGet, http.MethodDelete, http.MethodPost, http.MethodPut, http.MethodHead, http.MethodOptions, http.MethodPatch)
	}
	if len(rest) < 3 || !validName(rest[0]) || (rest[1] != "default" && !validName(rest[1])) {
		return errStatus(http.StatusNotFound, msgNoRouteFound)
	}
	name, ext := rest[2], ".http"
	for _, e := range webExtensions {
		if base, ok := strings.CutSuffix(name, e); ok {
			name, ext = base, e
			break
		}
	}
	if !validName(name) {
		return errStatus(http.StatusNotFound, msgNoRouteFound)
	}
	owPath := ""
	if len(rest) > 3 {
		owPath = "/" + strings.Join(rest[3:], "/")
	}
	if r.ContentLength > c.opts.Limits.MaxPayloadBytes {
		return errStatus(http.StatusRequestEntityTooLarge, msgEntityTooBig("Request", r.ContentLength, c.opts.Limits.MaxPayloadBytes))
	}
	var user *identity
	if r.Header.Get("Authorization") != "" {
		id, err := c.authenticate(r)
		if err != nil {
			return err
		}
		user = id
	}
	ctx := r.Context()
	f := fqn{Path: rest[0], Name: name}
	if rest[1] != "default" {
		f.Path += "/" + rest[1]
	}
	owner, err := c.identityByNamespace(ctx, rest[0])
	if err != nil {
		return errNotFound
	}
	ra, err := c.resolveAction(ctx, f)
	if err != nil {
		if ae := asAPIError(err); ae == errNotFound || ae == errConformance {
			return errNotFound
		}
		return err
	}
	if !ra.Annotations.Bool("web-export") {
		return errNotFound
	}
	customOptions := ra.Annotations.Bool("web-custom-options")
	if !customOptions {
		setCORS(w, r)
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusOK)
			return nil
		}
	}
	if r.Method != http.MethodOptions || !customOptions {
		if !webAuthorized(ra.Annotations, r, user) {
			return errStatus(http.StatusUnauthorized, msgUnauthorized)
		}
	}
	// WebActionsApi checks the owner's throttles once the action is known.
	if err := c.checkInvokeThrottles(ctx, owner); err != nil {
		return err
	}
	raw := ra.Annotations.Bool("raw-http")
	body, err := webBody(r, raw, c.opts.Limits.MaxPayloadBytes)
	if err != nil {
		return err
	}
	args, err := webArguments(r, owPath, user, raw, body, immutableParameters(ra.Action))
	if err != nil {
		return err
	}
	out, err := c.invoke(ctx, invocation{user: owner, action: ra, payload: args, wait: c.opts.Limits.MaxBlockingWait,
		tid: tidFrom(ctx)})
	if err != nil {
		return err
	}
	w.Header().Set(activationIDHeader, out.id)
	if out.activation == nil {
		return errStatus(http.StatusAccepted, msgResponseNotReady)
	}
	return webRespond(w, out.activation.Response, ext)
}

// setCORS adds OpenWhisk's default CORS headers for web actions.
func setCORS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	} else {
		h.Set("Access-Control-Allow-Headers", "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent")
	}
}

// webAuthorized applies require-whisk-auth: a string or number must equal
// the X-Require-Whisk-Auth header, true requires an authenticated caller.
func webAuthorized(ann entity.KeyValues, r *http.Request, user *identity) bool {
	raw, ok := ann.Get("require-whisk-auth")
	if !ok {
		return true
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	switch t := v.(type) {
	case string:
		return r.Header.Get("X-Require-Whisk-Auth") == t
	case float64:
		var n json.Number
		_ = json.Unmarshal(raw, &n)
		return r.Header.Get("X-Require-Whisk-Auth") == n.String()
	case bool:
		return t && user != nil
	}
	return false
}

// webBody reads the request entity as OpenWhisk passes it: JSON (any value)
// or form fields for a non-raw action, else the text, or base64 for binary
// and JSON content. nil means no body.
func webBody(r *http.Request, raw bool, limit int64) (json.RawMessage, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, badRequest(msgMalformedBody("Failed extracting request body."))
	}
	if int64(len(b)) > limit {
		return nil, errStatus(http.StatusRequestEntityTooLarge, msgEntityTooBig("Request", int64(len(b)), limit))
	}
	if len(b) == 0 {
		return nil, nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case !raw && isJSONFamily(mt):
		if !json.Valid(b) {
			return nil, badRequest(msgMalformedBody("invalid JSON"))
		}
		return b, nil
	case !raw && mt == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, badRequest(msgMalformedBody(err.Error()))
		}
		m := map[string]string{}
		for k, v := range form {
			m[k] = v[len(v)-1]
		}
		return json.Marshal(m)
	case mt == "application/json" || isBinaryMedia(mt):
		return json.Marshal(base64.StdEncoding.EncodeToString(b))
	}
	return json.Marshal(string(b))
}

// webArguments builds the action's arguments: __ow_method, __ow_headers,
// __ow_path (and __ow_user), then the query and body parameters (raw-http
// actions get __ow_query and __ow_body instead).
func webArguments(r *http.Request, owPath string, user *identity, raw bool, body json.RawMessage, immutable map[string]bool) (entity.KeyValues, error) {
	q := r.URL.Query()
	var bodyObj entity.KeyValues
	if len(body) > 0 && body[0] == '{' && !raw {
		kv, err := objectToKV(body)
		if err != nil {
			return nil, err
		}
		bodyObj = kv
	}
	if !raw {
		for k := range q {
			if isReserved(k) || immutable[k] {
				return nil, badRequest(msgParamsNotAllowed)
			}
		}
		for _, p := range bodyObj {
			if isReserved(p.Key) || immutable[p.Key] {
				return nil, badRequest(msgParamsNotAllowed)
			}
		}
	}
	headers := map[string]string{}
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if lk == "content-length" || lk == "timeout-access" {
			continue
		}
		headers[lk] = strings.Join(vs, ", ")
	}
	if r.Host != "" {
		headers["host"] = r.Host
	}
	args := entity.KeyValues{}.With("__ow_method", strings.ToLower(r.Method)).
		With("__ow_headers", headers).With("__ow_path", owPath)
	if user != nil {
		args = args.With("__ow_user", user.Namespace)
	}
	if raw {
		args = args.With("__ow_query", r.URL.RawQuery)
		if body == nil {
			return args.With("__ow_body", ""), nil
		}
		return args.Merge(entity.KeyValues{{Key: "__ow_body", Value: body}}), nil
	}
	for k, v := range q {
		args = args.With(k, v[len(v)-1])
	}
	switch {
	case bodyObj != nil:
		args = args.Merge(bodyObj)
	case body != nil:
		args = args.Merge(entity.KeyValues{{Key: "__ow_body", Value: body}})
	}
	return args, nil
}

func isReserved(k string) bool {
	for _, r := range webReserved {
		if k == r {
			return true
		}
	}
	return false
}

func isJSONFamily(mt string) bool { return mt == "application/json" || strings.HasSuffix(mt, "+json") }

// isBinaryMedia reports media types pekko treats as binary: everything but
// text and the textual application types; a body without a content type is
// application/octet-stream.
func isBinaryMedia(mt string) bool {
	if strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "+xml") || strings.HasSuffix(mt, "+json") {
		return false
	}
	switch mt {
	case "application/json", "application/xml", "application/javascript", "application/x-www-form-urlencoded",
		"application/xhtml+xml", "application/ecmascript":
		return false
	}
	return true
}
