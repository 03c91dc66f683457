package controller

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// webRespond answers a web action from its activation response
// (WhiskWebActionsApi.completeRequest): a success is transcoded whole, an
// application error through its error field, anything else is a 400.
func webRespond(w http.ResponseWriter, resp entity.ActivationResponse, ext string) error {
	var projection json.RawMessage
	switch resp.StatusCode {
	case entity.StatusSuccess:
		projection = resultJSON(resp)
	case entity.StatusApplicationError:
		var r map[string]json.RawMessage
		if json.Unmarshal(resp.Result, &r) != nil || r["error"] == nil {
			return errStatus(http.StatusNotFound, msgPropertyNotFound)
		}
		projection = r["error"]
	default:
		return badRequest(msgErrorProcessing)
	}
	switch ext {
	case ".json":
		if t := jsonType(projection); t != '{' && t != '[' {
			return badRequest(msgInvalidMedia("application/json"))
		}
		writeRaw(w, http.StatusOK, projection)
		return nil
	case ".html", ".svg":
		field, mt := strings.TrimPrefix(ext, "."), "text/html; charset=UTF-8"
		if ext == ".svg" {
			mt = "image/svg+xml"
		}
		var s string
		if json.Unmarshal(pickField(projection, "body", field), &s) != nil {
			return badRequest(msgInvalidMedia(strings.Split(mt, ";")[0]))
		}
		w.Header().Set("Content-Type", mt)
		_, _ = w.Write([]byte(s))
		return nil
	case ".text":
		v := pickField(projection, "body", "text")
		if v == nil {
			return errStatus(http.StatusNotFound, msgPropertyNotFound)
		}
		var s string
		switch jsonType(v) {
		case '{', '[':
			var buf bytes.Buffer
			_ = json.Indent(&buf, v, "", "  ")
			s = buf.String()
		case '"':
			_ = json.Unmarshal(v, &s)
		default:
			s = string(bytes.TrimSpace(v))
		}
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		_, _ = w.Write([]byte(s))
		return nil
	}
	return resultAsHTTP(w, projection)
}

// jsonType returns the first byte of a JSON value ('{', '[', '"', ...).
func jsonType(v json.RawMessage) byte {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

// pickField returns body, else the named field, of an object; a non-object
// is returned as it is.
func pickField(v json.RawMessage, first, second string) json.RawMessage {
	if jsonType(v) != '{' {
		return v
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(v, &m) != nil {
		return nil
	}
	if b, ok := m[first]; ok {
		return b
	}
	return m[second]
}

// resultAsHTTP answers from {statusCode, headers, body}.
func resultAsHTTP(w http.ResponseWriter, v json.RawMessage) error {
	invalid := badRequest(msgInvalidMedia("message/http"))
	var m map[string]json.RawMessage
	if jsonType(v) != '{' || json.Unmarshal(v, &m) != nil {
		return invalid
	}
	headers := http.Header{}
	if raw, ok := m["headers"]; ok {
		var hs map[string]json.RawMessage
		if json.Unmarshal(raw, &hs) != nil {
			return invalid
		}
		for k, hv := range hs {
			vals, ok := headerValues(hv)
			if !ok {
				return invalid
			}
			headers[k] = append(headers[k], vals...)
		}
	}
	code := 0
	if raw, ok := m["statusCode"]; ok {
		var n any
		if json.Unmarshal(raw, &n) != nil {
			return invalid
		}
		switch t := n.(type) {
		case float64:
			if t != math.Trunc(t) {
				return invalid
			}
			code = int(t)
		case string:
			c, err := strconv.Atoi(t)
			if err != nil {
				return invalid
			}
			code = c
		default:
			return invalid
		}
		if code < 100 || code > 599 {
			return invalid
		}
	}
	body, hasBody := m["body"]
	ct := headerValue(headers, "Content-Type")
	for k := range headers {
		if strings.EqualFold(k, "Content-Type") {
			delete(headers, k)
		}
	}
	var s string
	switch {
	case !hasBody || jsonType(body) == 'n' || (json.Unmarshal(body, &s) == nil && s == ""):
		return writeHTTP(w, orDefault(code, http.StatusNoContent), headers, "", nil)
	case jsonType(body) == '"':
		if ct == "" {
			ct = "text/html"
		}
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return badRequest(msgHTTPUnknownCT)
		}
		if !isBinaryMedia(mt) && !(isJSONFamily(mt) && entity.IsBinaryCode(s)) {
			if !strings.Contains(ct, "charset") && !isJSONFamily(mt) {
				ct += "; charset=UTF-8"
			}
			return writeHTTP(w, orDefault(code, http.StatusOK), headers, ct, []byte(s))
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return badRequest(msgHTTPContentType)
		}
		return writeHTTP(w, orDefault(code, http.StatusOK), headers, ct, b)
	default:
		if ct == "" {
			ct = "application/json"
		}
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return badRequest(msgHTTPUnknownCT)
		}
		if !isJSONFamily(mt) {
			return badRequest(msgHTTPContentType)
		}
		var buf bytes.Buffer
		if mt == "application/json" {
			_ = json.Compact(&buf, body)
		} else {
			_ = json.Indent(&buf, body, "", "  ")
			ct = mt + "; charset=UTF-8"
		}
		return writeHTTP(w, orDefault(code, http.StatusOK), headers, ct, buf.Bytes())
	}
}

func orDefault(code, def int) int {
	if code == 0 {
		return def
	}
	return code
}

func headerValue(h http.Header, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// headerValues renders a header value from a string, boolean, number or
// array of them.
func headerValues(raw json.RawMessage) ([]string, bool) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil, false
	}
	switch t := v.(type) {
	case string:
		return []string{t}, true
	case bool:
		return []string{strconv.FormatBool(t)}, true
	case float64:
		return []string{strings.TrimSpace(string(raw))}, true
	case []any:
		var out []string
		var items []json.RawMessage
		_ = json.Unmarshal(raw, &items)
		for _, it := range items {
			vs, ok := headerValues(it)
			if !ok {
				return nil, false
			}
			out = append(out, vs...)
		}
		return out, true
	}
	return nil, false
}

func writeHTTP(w http.ResponseWriter, code int, headers http.Header, ct string, body []byte) error {
	for k, vs := range headers {
		w.Header()[k] = append(w.Header()[k], vs...)
	}
	if ct != "" && len(body) > 0 {
		w.Header().Set("Content-Type", ct)
	}
	if len(body) > 0 {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
	return nil
}
