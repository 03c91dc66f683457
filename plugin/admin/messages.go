package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/fnmgr/fnmgr/plugin/httpapi"
	"github.com/fnmgr/fnmgr/plugin/reqerr"
)

// fail answers a request whose handler returned err: the status of its
// kind and the sentence it carries (reqerr: both are set where the error
// is made), counted by kind. An internal error is logged with the request
// id the client is told to look for; its text never reaches the client.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	kind := reqerr.KindOf(err)
	a.opts.Metrics.CountError("admin", string(kind))
	if kind == reqerr.Internal {
		a.log.ErrorContext(r.Context(), "request failed", "op", r.Method+" "+r.URL.Path, "err", err)
	}
	httpapi.WriteError(w, r, kind.Status(), reqerr.Sentence(err))
}

// bodyProblem words a request body's decoding error with the body's own
// names: encoding/json's "cannot unmarshal string into Go struct field
// ConfigRequest.memorySize of type int" becomes "memorySize must be an
// integer, not a string".
func bodyProblem(err error) string {
	var te *json.UnmarshalTypeError
	// Only encoding/json's own error, not one a custom decoder wrapped
	// (optimizer.Payloads words its own).
	if errors.As(err, &te) && te == err {
		got := jsonValue(te.Value)
		if te.Field == "" {
			return fmt.Sprintf("the body must be %s, not %s", jsonKind(te.Type), got)
		}
		return fmt.Sprintf("%s must be %s, not %s", te.Field, jsonKind(te.Type), got)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// jsonKind names what JSON value a Go type decodes from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another JSON value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a JSON object"
	}
	return "another JSON value"
}

// jsonValue names what encoding/json says it found ("string", "number
// 1e30", "array").
func jsonValue(v string) string {
	switch {
	case strings.HasPrefix(v, "number "):
		return "the number " + strings.TrimPrefix(v, "number ")
	case v == "bool":
		return "a boolean"
	case v == "array":
		return "a list"
	case v == "object":
		return "a JSON object"
	case v == "":
		return "something else"
	}
	return "a " + v
}
