package invoker

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/kafka/message"
)

func intp(n int) *int { return &n }

func TestNormalizeResponse(t *testing.T) {
	big := `{"s":"` + strings.Repeat("x", MaxResultBytes) + `"}`
	already := fmt.Sprintf(`{"error":"The action produced a response that exceeded the allowed length: %d > %d bytes. The truncated response was: {\"s\":\"xx"}`, 2000000, MaxResultBytes)
	cases := []struct {
		name       string
		code       int
		result     string
		wantCode   int
		wantResult string // "" = unchanged
		wantSize   *int
		wantPrefix string
	}{
		{name: "success has its size", code: 0, result: `{"a":1}`, wantCode: 0, wantSize: intp(7)},
		{name: "array result", code: 0, result: `[1,2]`, wantCode: 0, wantSize: intp(5)},
		{name: "empty result is {}", code: 0, result: ``, wantCode: 0, wantResult: `{}`, wantSize: intp(2)},
		{name: "application error keeps only error", code: 1, result: `{"error":"no","x":1}`, wantCode: 1,
			wantResult: `{"error":"no"}`, wantSize: intp(20)},
		{name: "too large success is truncated", code: 0, result: big, wantCode: 1, wantSize: intp(len(big)),
			wantPrefix: fmt.Sprintf(`{"error":"The action produced a response that exceeded the allowed length: %d > %d bytes. The truncated response was: {\"s\":\"xxx`, len(big), MaxResultBytes)},
		{name: "runner's truncation keeps its size", code: 1, result: already, wantCode: 1, wantSize: intp(2000000)},
		{name: "timeout has no size", code: 2, result: `{"error":"The action exceeded its time limits of 100 milliseconds."}`, wantCode: 2},
		{name: "oom has no size", code: 2, result: `{"error":"The action exhausted its memory and was aborted."}`, wantCode: 2},
		{name: "exception has its size", code: 2, result: `{"error":"An error has occurred: boom"}`, wantCode: 2, wantSize: intp(len(`{"error":"An error has occurred: boom"}`))},
		{name: "whisk error", code: 3, result: `{"error":"x"}`, wantCode: 3},
		{name: "unknown code is a whisk error", code: 7, result: `{"error":"x"}`, wantCode: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := normalizeResponse(tc.code, json.RawMessage(tc.result))
			require.Equal(t, tc.wantCode, got.StatusCode)
			require.Equal(t, tc.wantSize, got.Size)
			switch {
			case tc.wantPrefix != "":
				require.True(t, strings.HasPrefix(string(got.Result), tc.wantPrefix), "%.200s", got.Result)
				require.True(t, json.Valid(got.Result))
			case tc.wantResult != "":
				require.JSONEq(t, tc.wantResult, string(got.Result))
			default:
				require.Equal(t, tc.result, string(got.Result))
			}
		})
	}
}

func TestProvideAPIKey(t *testing.T) {
	cases := []struct {
		name string
		anns entity.KeyValues
		want bool
	}{
		{"absent: OpenWhisk's backward compatible default", nil, true},
		{"true", entity.KeyValues{}.With(annProvideAPIKey, true), true},
		{"false (what the controller adds on create)", entity.KeyValues{}.With(annProvideAPIKey, false), false},
		{"non-empty string", entity.KeyValues{}.With(annProvideAPIKey, "yes"), true},
		{"empty string", entity.KeyValues{}.With(annProvideAPIKey, ""), false},
		{"zero", entity.KeyValues{}.With(annProvideAPIKey, 0), false},
		{"null", entity.KeyValues{{Key: annProvideAPIKey, Value: json.RawMessage("null")}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, provideAPIKey(tc.anns))
		})
	}
}

func TestPartitionArguments(t *testing.T) {
	cases := []struct {
		name     string
		content  string
		initArgs []string
		want     string
		wantEnv  map[string]string
	}{
		{"no content", ``, nil, `{}`, map[string]string{}},
		{"null content", `null`, nil, `{}`, map[string]string{}},
		{"no init args", `{"a":1}`, nil, `{"a":1}`, map[string]string{}},
		{"init args go to env", `{"a":1,"DB":"x","N":{"k":2}}`, []string{"DB", "N", "missing"}, `{"a":1}`,
			map[string]string{"DB": "x", "N": `{"k":2}`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			got := partitionArguments(json.RawMessage(tc.content), tc.initArgs, env)
			require.JSONEq(t, tc.want, string(got))
			require.Equal(t, tc.wantEnv, env)
		})
	}
}

func TestBuildActivationAnnotations(t *testing.T) {
	start := time.UnixMilli(1_000_000)
	a := &entity.Action{Namespace: "guest/demo", Name: "hello", Version: "0.0.3", Limits: entity.DefaultLimits(),
		Exec: entity.Exec{Kind: "python:3"}}
	cases := []struct {
		name  string
		msg   func(*message.Activation)
		o     outcome
		want  []string
		check func(*testing.T, entity.Activation)
	}{
		{name: "warm: no initTime", o: outcome{start: start, end: start.Add(5 * time.Millisecond)},
			want: []string{"path", "waitTime", "kind", "timeout", "limits"},
			check: func(t *testing.T, act entity.Activation) {
				require.Equal(t, int64(7), annotationInt(act.Annotations, annWaitTime))
				require.Equal(t, int64(5), *act.Duration)
				v, _ := act.Annotations.String(annPath)
				require.Equal(t, "guest/demo/hello", v)
				require.Equal(t, "hello", act.Name)
				require.Equal(t, "0.0.3", act.Version)
				require.Equal(t, "alice/"+act.ActivationID, act.ID)
				require.Equal(t, "alice", act.Namespace)
			}},
		{name: "cold: initTime", o: outcome{start: start, end: start, cold: true, initTime: 30 * time.Millisecond},
			want: []string{"path", "waitTime", "kind", "timeout", "limits", "initTime"}},
		{name: "in a sequence, through a binding",
			msg:  func(m *message.Activation) { m.Cause = "c0ffee"; m.Action.Binding = "alice/mybinding" },
			o:    outcome{start: start, end: start},
			want: []string{"path", "waitTime", "kind", "timeout", "limits", "causedBy", "binding"},
			check: func(t *testing.T, act entity.Activation) {
				require.Equal(t, "c0ffee", act.Cause)
				v, _ := act.Annotations.String(annCausedBy)
				require.Equal(t, "sequence", v)
			}},
		{name: "no transaction start: the pool's wait", msg: func(m *message.Activation) { m.TransID = m.TransID[:1] },
			o:    outcome{start: start, end: start, waitTime: 250 * time.Millisecond},
			want: []string{"path", "waitTime", "kind", "timeout", "limits"},
			check: func(t *testing.T, act entity.Activation) {
				require.Equal(t, int64(250), annotationInt(act.Annotations, annWaitTime))
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := &message.Activation{
				TransID: message.NewTransID("tid", start.Add(-7*time.Millisecond)), ActivationID: "0123",
				Action: entity.FullyQualifiedName{Path: "guest/demo", Name: "hello"},
				User:   message.Identity{Subject: "alice", Namespace: message.Namespace{Name: "alice", UUID: "u"}},
			}
			if tc.msg != nil {
				tc.msg(msg)
			}
			act := buildActivation(msg, a, tc.o, start)
			var keys []string
			for _, kv := range act.Annotations {
				keys = append(keys, kv.Key)
			}
			require.Equal(t, tc.want, keys)
			if tc.check != nil {
				tc.check(t, act)
			}
		})
	}
}

func TestFallbackActivation(t *testing.T) {
	msg := &message.Activation{
		TransID: message.NewTransID("tid", time.Now()), ActivationID: "abc", Cause: "seq1",
		Action: entity.FullyQualifiedName{Path: "guest", Name: "gone", Version: "0.0.2"},
		User:   message.Identity{Subject: "guest", Namespace: message.Namespace{Name: "guest", UUID: "u"}},
	}
	act := fallbackActivation(msg, fetchErrorResponse(fmt.Errorf("x: %w", whiskdb.ErrNotFound)), time.UnixMilli(5000))
	require.Equal(t, 1, act.Response.StatusCode)
	require.JSONEq(t, `{"error":"Action could not be found or may have been deleted."}`, string(act.Response.Result))
	require.Nil(t, act.Response.Size)
	require.Equal(t, int64(5000), act.Start)
	require.Equal(t, int64(5000), act.End)
	require.Equal(t, int64(0), *act.Duration)
	require.Equal(t, "0.0.2", act.Version)
	require.Equal(t, entity.KeyValues{}.With(annPath, "guest/gone").With(annKind, "unknown").With(annCausedBy, "sequence"), act.Annotations)
	require.Equal(t, 3, fetchErrorResponse(fmt.Errorf("boom")).StatusCode)
}

func TestOffsetTracker(t *testing.T) {
	rec := func(off int64) *kgo.Record { return &kgo.Record{Topic: "invoker0", Offset: off, LeaderEpoch: 1} }
	point := func(m map[string]map[int32]kgo.EpochOffset) int64 { return m["invoker0"][0].Offset }
	tr := newOffsetTracker()
	for _, off := range []int64{10, 11, 12} {
		tr.start(rec(off))
	}
	steps := []struct {
		done int64
		want int64
	}{
		{11, 10}, // 10 still running: nothing past it
		{12, 10},
		{10, 13}, // all done
	}
	for _, s := range steps {
		t.Run(fmt.Sprintf("done %d", s.done), func(t *testing.T) {
			require.Equal(t, s.want, point(tr.done(rec(s.done))))
		})
	}
	tr.start(rec(13))
	tr.start(rec(14))
	require.Equal(t, int64(13), point(tr.done(rec(14))), "13 never done (aborted) holds the commit back")
}

// annotationInt is the integer annotation key of kv (0 when absent).
func annotationInt(kv entity.KeyValues, key string) int64 {
	n, _ := entity.Value[int64](kv, key)
	return n
}
