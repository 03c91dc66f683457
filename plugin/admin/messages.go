package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/fnmgr/fnmgr/plugin/registry"
)

// sentence turns a wrapped error into what a person reads: package
// prefixes and the sentinel's own text dropped, a full stop. The first
// letter is capitalised unless the sentence starts with a name the request
// carries (memorySize, gpuNum, limits.memory, exec.kind, payloads[0]):
// those stay exactly as the caller sent them.
func sentence(err error) string {
	s := err.Error()
	for _, sentinel := range []error{registry.ErrInvalid, registry.ErrConflict, registry.ErrLocked, registry.ErrGone, registry.ErrNotFound} {
		s = strings.TrimSuffix(s, ": "+sentinel.Error())
	}
	for _, p := range []string{"versions: ", "lifecycle: ", "registry: ", "config: ", "optimizer: "} {
		s = strings.ReplaceAll(s, p, "")
	}
	if s == "" {
		return "The request failed."
	}
	if !requestFields()[leadingName(s)] {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// leadingName is the top-level name s starts with: "limits" of
// "limits.memory 64 MB…", "payloads" of "payloads[0] must…".
func leadingName(s string) string {
	end := strings.IndexFunc(s, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_')
	})
	if end < 0 {
		return s
	}
	return s[:end]
}

var (
	fieldsOnce sync.Once
	fields     map[string]bool
)

// requestFields are the names a request to the admin API can carry, as
// openapi.json describes them: the properties of every request body
// (followed through $ref) and every parameter's name.
func requestFields() map[string]bool {
	fieldsOnce.Do(func() {
		fields = map[string]bool{}
		var doc map[string]any
		if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
			return // TestOpenAPIRefsResolve fails on a broken document
		}
		seen := map[string]bool{}
		var walk func(v any, inBody bool)
		walk = func(v any, inBody bool) {
			switch v := v.(type) {
			case []any:
				for _, e := range v {
					walk(e, inBody)
				}
			case map[string]any:
				if ref, ok := v["$ref"].(string); ok && inBody && !seen[ref] {
					seen[ref] = true
					walk(resolveRef(doc, ref), true)
				}
				if props, ok := v["properties"].(map[string]any); ok && inBody {
					for name := range props {
						fields[name] = true
					}
				}
				if params, ok := v["parameters"].([]any); ok {
					for _, p := range params {
						p, _ := p.(map[string]any)
						if ref, ok := p["$ref"].(string); ok {
							p, _ = resolveRef(doc, ref).(map[string]any)
						}
						if name, ok := p["name"].(string); ok {
							fields[name] = true
						}
					}
				}
				for k, e := range v {
					walk(e, inBody || k == "requestBody")
				}
			}
		}
		walk(doc["paths"], false)
	})
	return fields
}

// resolveRef follows a local reference such as
// "#/components/schemas/Exec" (nil if it leads nowhere).
func resolveRef(doc map[string]any, ref string) any {
	var cur any = doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
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
