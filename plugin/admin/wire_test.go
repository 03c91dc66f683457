package admin

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/optimizer"
	"github.com/fnmgr/fnmgr/optimizer/report"
	"github.com/fnmgr/fnmgr/plugin/api"
)

// wireCase is one body of the admin API: the operation and status (0 for
// the request body) whose schema in openapi.json describes it, and a value
// of the Go type the server and plugin/client use for it.
type wireCase struct {
	name   string
	op     string
	status int
	value  any
	// mayBeZero lists fields (Type.Field paths) the example leaves at their
	// zero value, and why; every other field is set, so that each one the
	// type sends is checked against the schema.
	mayBeZero map[string]string
	// opaque lists fields that are set but whose own fields the schema
	// leaves open (the optimizer's report).
	opaque []string
}

func ptr[T any](v T) *T { return &v }

func wireCases() []wireCase {
	at := time.Date(2026, 12, 6, 19, 0, 0, 0, time.UTC)
	later := at.Add(3 * time.Second)
	limits := entity.Limits{Timeout: 60000, Memory: 256, Logs: 10, Concurrency: 1, Instances: ptr(2)}
	kv := entity.KeyValues{{Key: "name", Value: json.RawMessage(`"world"`), Init: true, Encryption: "aes-256"}}
	snap := api.Snapshot{
		Exec: api.ExecSnapshot{Kind: "nodejs:20", Main: "main", Image: "openwhisk/action-nodejs-v20", Binary: true,
			Components: []string{"/guest/a"}, CodeDigest: "sha256-ab", CodeSize: 42, ContentType: entity.BinaryContentType},
		Limits: limits, Parameters: kv, Annotations: kv,
	}
	routing := []api.Route{{Version: 2, Weight: 90}, {Version: 1, Weight: 10}}
	function := api.Function{Namespace: "guest", Name: "pkg/hello", State: api.Retired,
		Head:     api.Head{Revision: 3, Digest: "sha256-cd", Updated: at},
		Versions: []api.VersionRef{{Version: 1, Digest: "sha256-ab", Created: at, Description: "first"}},
		Aliases:  map[string]api.Alias{"prod": {Routing: routing, Updated: at}},
		Config:   api.Config{BaseImage: "python:3", MemorySize: 512, GPUNum: ptr(1), GPUMemorySize: ptr(1024), GPUPercentage: ptr(50)},
		Limits:   limits, Reason: "done", PurgeAt: &later, Purged: true, Gone: true, Untracked: "code in S3",
		Transition: &api.Transition{Op: "retire", From: api.Published, To: api.Retired, By: "admin", Reason: "done", Started: at},
	}
	noTransitionUpdate := map[string]string{"Function.Transition.Update": "never shown: viewOf clears it"}
	version := api.Version{Version: 1, Digest: "sha256-ab", Revision: 3, Description: "first", Created: at,
		CreatedBy: "alice", Snapshot: snap, Code: ptr("function main() {}")}
	named := api.NamedAlias{Alias: "prod", Routing: routing, Updated: at}
	published := api.PublishedVersion{Digest: "sha256-ab", Version: 4}
	setting := report.Setting{MemoryMB: 256, GPUNum: ptr(1), GPUMemorySize: ptr(1024), GPUPercentage: ptr(50)}
	summary := optimizer.Summary{ID: "r1", Status: optimizer.Succeeded, Progress: optimizer.Progress{Done: 3, Total: 15},
		Objective: "cost", Mode: "both", By: "policy", Error: "none", Created: at, Finished: &later, Current: &setting,
		Recommendation: &report.Recommendation{Setting: setting, Source: "active", Predicted: true},
		Saving:         &report.Saving{CurrentMs: 10, RecommendedMs: 12, GBSecondsSavedPct: 40}, Applied: true}
	run := optimizer.Run{ID: "r1", Namespace: "guest", Name: "hello", Status: optimizer.Failed,
		Progress: optimizer.Progress{Done: 3, Total: 15},
		Request: optimizer.Stored{Payloads: 2, Weights: []float64{1, 2}, Objective: "cost", Tolerance: 0.1,
			MemoryCandidates: []int{128, 256}, MaxInvocations: 15, MaxGBSeconds: 10, GPU: true, Apply: true, Mode: "active"},
		By: "alice", Error: "activation a1 did not complete", Created: at, Updated: later, Finished: &later,
		Report: &report.Report{Function: "guest/hello"}}
	return []wireCase{
		{name: "error", op: "getFunction", status: http.StatusNotFound, value: api.Error{Error: "Function guest/x does not exist.", Code: "req1"}},
		{name: "function list", op: "listFunctions", status: http.StatusOK, value: []api.Function{function}, mayBeZero: noTransitionUpdate},
		{name: "function", op: "getFunction", status: http.StatusOK, value: function, mayBeZero: noTransitionUpdate},
		{name: "revisions", op: "listRevisions", status: http.StatusOK,
			value: []api.Revision{{Revision: 3, Digest: "sha256-cd", Observed: at, OWVersion: "0.0.3", Snapshot: snap}}},
		{name: "publish request", op: "publishVersion", value: api.PublishRequest{Description: "first"}},
		{name: "published", op: "publishVersion", status: http.StatusCreated, value: published},
		{name: "republished", op: "publishVersion", status: http.StatusOK, value: published},
		{name: "versions", op: "listVersions", status: http.StatusOK, value: []api.Version{version}},
		{name: "version", op: "getVersion", status: http.StatusOK, value: version},
		{name: "retired version", op: "retireVersion", status: http.StatusOK, value: api.RetiredVersion{Retired: true, Version: 1}},
		{name: "alias request, one version", op: "putAlias", value: api.AliasRequest{Version: ptr(2)},
			mayBeZero: map[string]string{"AliasRequest.Routing": "version or routing, not both"}},
		{name: "alias request, routing", op: "putAlias", value: api.AliasRequest{Routing: routing},
			mayBeZero: map[string]string{"AliasRequest.Version": "version or routing, not both"}},
		{name: "alias set", op: "putAlias", status: http.StatusOK, value: named},
		{name: "alias", op: "getAlias", status: http.StatusOK, value: named},
		{name: "alias deleted", op: "deleteAlias", status: http.StatusOK, value: api.DeletedAlias{Alias: "prod", Deleted: true}},
		{name: "rollback request", op: "rollbackFunction", value: api.RollbackRequest{Version: 1}},
		{name: "rolled back", op: "rollbackFunction", status: http.StatusOK, value: published},
		{name: "block request", op: "blockFunction", value: api.BlockRequest{Reason: "incident 42"}},
		{name: "blocked", op: "blockFunction", status: http.StatusOK, value: function, mayBeZero: noTransitionUpdate},
		{name: "unblocked", op: "unblockFunction", status: http.StatusOK, value: function, mayBeZero: noTransitionUpdate},
		{name: "update request", op: "updateFunction", value: api.UpdateRequest{
			Exec: &entity.ExecPut{Kind: "nodejs:20", Code: ptr("x"), Image: "i", Init: "y", Main: "main",
				Components: []string{"/guest/a"}, Binary: ptr(false)},
			Limits:     &entity.LimitsPut{Timeout: ptr(1000), Memory: ptr(256), Logs: ptr(10), Concurrency: ptr(1), Instances: ptr(2)},
			Parameters: kv, Annotations: kv, Test: json.RawMessage(`{"n":1}`)}},
		{name: "updated", op: "updateFunction", status: http.StatusOK, value: function, mayBeZero: noTransitionUpdate},
		{name: "retire request", op: "retireFunction", value: api.RetireRequest{Reason: "old", GraceSeconds: ptr(int64(60))}},
		{name: "retired", op: "retireFunction", status: http.StatusOK, value: function, mayBeZero: noTransitionUpdate},
		{name: "history", op: "getHistory", status: http.StatusOK, value: []api.HistoryEntry{{At: later, From: api.Latest,
			To: api.Latest, By: "alice", Reason: "r", Revision: 3, Op: "alias", Started: at, DurationMs: 3000,
			States: []api.StateStay{{State: api.Updating, DurationMs: 2000}}, Outcome: api.OutcomeFailed, Error: "e",
			Version: 2, Alias: "prod", Routing: routing}}},
		{name: "config request", op: "putConfig", value: api.ConfigRequest{BaseImage: ptr("python:3"), MemorySize: ptr(512),
			GPUNum: ptr(1), GPUMemorySize: ptr(1024), GPUPercentage: ptr(50)}},
		{name: "config", op: "putConfig", status: http.StatusOK, value: function.Config},
		{name: "optimizations", op: "listOptimizations", status: http.StatusOK, value: []optimizer.Summary{summary},
			mayBeZero: map[string]string{"Summary.Recommendation.Why": "in the run itself, not the list"}, opaque: []string{"Summary.Saving"}},
		{name: "optimization request", op: "startOptimization", value: optimizer.Request{
			Payloads:  optimizer.Payloads{{Body: json.RawMessage(`{"n":1}`), Weight: 1}, {Body: json.RawMessage(`{"payload":2}`), Weight: 3}},
			Objective: "cost", Tolerance: ptr(0.1), MemoryCandidates: []int{128, 256}, MaxInvocations: 15, MaxGBSeconds: 10,
			GPU: true, Apply: true, Mode: "both"}},
		{name: "optimization started", op: "startOptimization", status: http.StatusAccepted, value: api.OptimizationStarted{ID: "r1"}},
		{name: "optimization", op: "getOptimization", status: http.StatusOK, value: run, opaque: []string{"Run.Report"}},
		{name: "optimization cancelled", op: "cancelOptimization", status: http.StatusOK, value: run, opaque: []string{"Run.Report"}},
	}
}

// TestWireTypesMatchOpenAPI: each body type of plugin/api (and the
// optimizer's views the API serves) encodes to JSON that the schema
// openapi.json gives its operation accepts, with no property the schema
// does not name, and decodes back to the same value.
func TestWireTypesMatchOpenAPI(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	for _, c := range wireCases() {
		t.Run(c.name, func(t *testing.T) {
			root := reflect.TypeOf(c.value)
			for root.Kind() == reflect.Slice || root.Kind() == reflect.Pointer {
				root = root.Elem()
			}
			requireAllSet(t, reflect.ValueOf(c.value), root.Name(), c.mayBeZero, c.opaque)
			schema := operationSchema(t, doc, c.op, c.status)
			raw, err := json.Marshal(c.value)
			require.NoError(t, err)
			var v any
			require.NoError(t, json.Unmarshal(raw, &v))
			for _, problem := range validate(doc, schema, v, "body") {
				t.Errorf("%s: %s", c.name, problem)
			}
			back := reflect.New(reflect.TypeOf(c.value))
			require.NoError(t, json.Unmarshal(raw, back.Interface()))
			require.Equal(t, c.value, back.Elem().Interface(), "round trip through %s", raw)
		})
	}
}

// TestWireValidatorRefuses: the schema check finds what it is for.
func TestWireValidatorRefuses(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	head := map[string]any{"$ref": "#/components/schemas/Head"}
	for _, c := range []struct {
		name string
		body string
		want string
	}{
		{"unknown property", `{"revision":1,"digest":"d","updated":"2026-01-01T00:00:00Z","extra":1}`, "extra"},
		{"missing required", `{"revision":1,"digest":"d"}`, "updated"},
		{"wrong type", `{"revision":"1","digest":"d","updated":"2026-01-01T00:00:00Z"}`, "revision"},
		{"not a date-time", `{"revision":1,"digest":"d","updated":12}`, "updated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var v any
			require.NoError(t, json.Unmarshal([]byte(c.body), &v))
			problems := validate(doc, head, v, "body")
			require.NotEmpty(t, problems)
			require.Contains(t, strings.Join(problems, "\n"), c.want)
		})
	}
	var v any
	require.NoError(t, json.Unmarshal([]byte(`{"revision":1,"digest":"d","updated":"2026-01-01T00:00:00Z"}`), &v))
	require.Empty(t, validate(doc, head, v, "body"))
}

// operationSchema is the JSON schema of operation op's request body
// (status 0) or of its answer with status.
func operationSchema(t *testing.T, doc map[string]any, op string, status int) any {
	t.Helper()
	for _, methods := range doc["paths"].(map[string]any) {
		for _, o := range methods.(map[string]any) {
			o := o.(map[string]any)
			if o["operationId"] != op {
				continue
			}
			var holder any
			if status == 0 {
				holder = o["requestBody"]
			} else {
				holder = o["responses"].(map[string]any)[fmt.Sprint(status)]
			}
			require.NotNil(t, holder, "%s declares no body for status %d", op, status)
			holder = resolve(doc, holder)
			schema := dig(holder, "content", "application/json", "schema")
			require.NotNil(t, schema, "%s %d has no application/json schema", op, status)
			return schema
		}
	}
	t.Fatalf("openapi.json has no operation %s", op)
	return nil
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func resolve(doc map[string]any, v any) any {
	for {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return v
		}
		v = dig(doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...)
	}
}

// validate checks v against the subset of JSON Schema openapi.json uses:
// $ref, oneOf, type, properties (closed unless additionalProperties says
// otherwise), required, items, enum, minimum, maximum, format date-time.
func validate(doc map[string]any, schema, v any, at string) []string {
	s, _ := resolve(doc, schema).(map[string]any)
	if len(s) == 0 {
		return nil // {}: any value
	}
	if alts, ok := s["oneOf"].([]any); ok {
		var all []string
		for _, alt := range alts {
			p := validate(doc, alt, v, at)
			if len(p) == 0 {
				return nil
			}
			all = append(all, p...)
		}
		return append([]string{at + ": matches none of oneOf"}, all...)
	}
	var problems []string
	bad := func(f string, args ...any) { problems = append(problems, at+": "+fmt.Sprintf(f, args...)) }
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		bad("%v is not one of %v", v, enum)
	}
	switch s["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			bad("%T is not an object", v)
			break
		}
		props, _ := s["properties"].(map[string]any)
		for _, r := range asStrings(s["required"]) {
			if _, ok := m[r]; !ok {
				bad("required property %q is missing", r)
			}
		}
		extra := s["additionalProperties"]
		for k, pv := range m {
			if ps, ok := props[k]; ok {
				problems = append(problems, validate(doc, ps, pv, at+"."+k)...)
				continue
			}
			switch e := extra.(type) {
			case map[string]any:
				problems = append(problems, validate(doc, e, pv, at+"."+k)...)
			case bool:
				if !e {
					bad("property %q is not in the schema", k)
				}
			default:
				if props != nil {
					bad("property %q is not in the schema", k)
				}
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			bad("%T is not an array", v)
			break
		}
		for i, e := range a {
			problems = append(problems, validate(doc, s["items"], e, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			bad("%T is not a string", v)
			break
		}
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				bad("%q is not a date-time", str)
			}
		}
	case "integer", "number":
		n, ok := v.(float64)
		if !ok || (s["type"] == "integer" && n != math.Trunc(n)) {
			bad("%v is not %s", v, s["type"])
			break
		}
		if lo, ok := s["minimum"].(float64); ok && n < lo {
			bad("%v is below the minimum %v", n, lo)
		}
		if hi, ok := s["maximum"].(float64); ok && n > hi {
			bad("%v is above the maximum %v", n, hi)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("%T is not a boolean", v)
		}
	}
	return problems
}

func asStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, s := range list {
		out = append(out, s.(string))
	}
	return out
}

// requireAllSet fails when a field of v (walked through structs,
// pointers, slices and maps) is its zero value, unless mayBeZero names it:
// an example that leaves a field out checks nothing about it.
func requireAllSet(t *testing.T, v reflect.Value, path string, mayBeZero map[string]string, opaque []string) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			requireAllSet(t, v.Elem(), path, mayBeZero, opaque)
		}
	case reflect.Slice, reflect.Map:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // json.RawMessage
		}
		it := v.MapRange
		if v.Kind() == reflect.Slice {
			for i := range v.Len() {
				requireAllSet(t, v.Index(i), path, mayBeZero, opaque)
			}
			return
		}
		for iter := it(); iter.Next(); {
			requireAllSet(t, iter.Value(), path, mayBeZero, opaque)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) || slices.Contains(opaque, path) {
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			p := path + "." + f.Name
			if f.Anonymous {
				p = path // embedded: its fields are the outer type's
			}
			if _, ok := mayBeZero[p]; ok {
				continue
			}
			if v.Field(i).IsZero() {
				t.Errorf("%s is not set in the example: set it, so that the schema check sees it", p)
				continue
			}
			requireAllSet(t, v.Field(i), p, mayBeZero, opaque)
		}
	}
}
