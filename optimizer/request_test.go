package optimizer_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/optimizer"
)

func ptr[T any](v T) *T { return &v }

func TestStartValidation(t *testing.T) {
	x := newFixture(t, flat())
	x.function("hello", 256, optimizer.StateLatest)
	x.function("blocked", 256, optimizer.StateBlocked)
	x.function("updating", 256, optimizer.StateUpdating)
	x.function("retired", 256, optimizer.StateRetired)
	seq := entity.Action{Namespace: "guest", Name: "seq", Exec: entity.Exec{Kind: entity.KindSequence, Components: []string{"/guest/hello"}}}
	_, _ = x.acts.Put(x.ctx, seq, nil)
	x.fns.set("seq", optimizer.StateLatest)
	for _, tc := range []struct {
		name, fn string
		req      optimizer.Request
		want     error
		text     string
	}{
		{"unknown function", "nope", optimizer.Request{}, optimizer.ErrNotFound, ""},
		{"objective", "hello", optimizer.Request{Objective: "speed"}, optimizer.ErrInvalid, "objective"},
		{"tolerance", "hello", optimizer.Request{Tolerance: ptr(5.0)}, optimizer.ErrInvalid, "tolerance"},
		{"candidate not a multiple of 64", "hello", optimizer.Request{MemoryCandidates: []int{100}}, optimizer.ErrInvalid, "multiple of 64"},
		{"candidate above MAX_MEMORY", "hello", optimizer.Request{MemoryCandidates: []int{4096}}, optimizer.ErrInvalid, "MAX_MEMORY"},
		{"candidate below the minimum", "hello", optimizer.Request{MemoryCandidates: []int{64}}, optimizer.ErrInvalid, "between 128"},
		{"budget", "hello", optimizer.Request{MaxInvocations: 2}, optimizer.ErrInvalid, "maxInvocations"},
		{"mode", "hello", optimizer.Request{Mode: "lazy"}, optimizer.ErrInvalid, "mode"},
		{"payload not an object", "hello", optimizer.Request{Payloads: optimizer.Payloads{{Body: json.RawMessage(`[1]`), Weight: 1}}}, optimizer.ErrInvalid, "payloads[0]"},
		{"weight", "hello", optimizer.Request{Payloads: optimizer.Payloads{{Body: json.RawMessage(`{}`), Weight: -1}}}, optimizer.ErrInvalid, "weight"},
		{"blocked", "blocked", optimizer.Request{}, optimizer.ErrConflict, "BLOCKED"},
		{"updating", "updating", optimizer.Request{}, optimizer.ErrLocked, ""},
		{"retired", "retired", optimizer.Request{}, optimizer.ErrGone, ""},
		{"sequence", "seq", optimizer.Request{}, optimizer.ErrInvalid, "sequence"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := x.svc.Start(x.ctx, "guest", tc.fn, tc.req, "tester")
			require.ErrorIs(t, err, tc.want)
			require.Contains(t, err.Error(), tc.text)
		})
	}
	t.Run("duration is min-resources", func(t *testing.T) {
		for name, want := range map[string]string{"duration": "min-resources", "": "min-resources", "cost": "cost", "balanced": "balanced"} {
			y := newFixture(t, flat())
			y.function("hello", 256, optimizer.StateLatest)
			id, err := y.svc.Start(y.ctx, "guest", "hello", optimizer.Request{Objective: name}, "")
			require.NoError(t, err, name)
			r, err := y.svc.Get(y.ctx, "guest", "hello", id)
			require.NoError(t, err)
			require.Equal(t, want, r.Request.Objective, "objective %q", name)
		}
	})
	t.Run("MAX_MEMORY unknown", func(t *testing.T) {
		y := newFixture(t, flat(), func(o *optimizer.Options) { o.Deployment = deployment{max: 0} })
		y.function("hello", 256, optimizer.StateLatest)
		_, err := y.svc.Start(y.ctx, "guest", "hello", optimizer.Request{}, "")
		require.ErrorIs(t, err, optimizer.ErrInvalid)
		require.Contains(t, err.Error(), "MAX_MEMORY")
	})
	t.Run("apply without a configurer", func(t *testing.T) {
		y := newFixture(t, flat(), func(o *optimizer.Options) { o.Applier = nil })
		y.function("hello", 256, optimizer.StateLatest)
		_, err := y.svc.Start(y.ctx, "guest", "hello", optimizer.Request{Apply: true}, "")
		require.ErrorIs(t, err, optimizer.ErrInvalid)
	})
}

func TestPayloadsForms(t *testing.T) {
	var r optimizer.Request
	require.NoError(t, json.Unmarshal([]byte(`{"payloads":[{"n":1},{"payload":{"n":2},"weight":3},{"payload":{"n":3}},{"payload":1,"other":2}]}`), &r))
	require.Len(t, r.Payloads, 4)
	require.JSONEq(t, `{"n":1}`, string(r.Payloads[0].Body))
	require.Equal(t, 1.0, r.Payloads[0].Weight)
	require.JSONEq(t, `{"n":2}`, string(r.Payloads[1].Body))
	require.Equal(t, 3.0, r.Payloads[1].Weight)
	require.Equal(t, 1.0, r.Payloads[2].Weight)
	require.JSONEq(t, `{"payload":1,"other":2}`, string(r.Payloads[3].Body), "other keys: the object is the payload itself")
	require.Error(t, json.Unmarshal([]byte(`{"payloads":[1]}`), &r))
}

// TestPayloadsRoundTrip: what a client encodes, the server reads back as
// the same payloads and weights, including parameters that themselves look
// like the weighted form.
func TestPayloadsRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name string
		in   optimizer.Payloads
		want string
	}{
		{"parameters", optimizer.Payloads{{Body: json.RawMessage(`{"n":1}`), Weight: 1}}, `[{"n":1}]`},
		{"weighted", optimizer.Payloads{{Body: json.RawMessage(`{"n":1}`), Weight: 2.5}}, `[{"payload":{"n":1},"weight":2.5}]`},
		{"parameters named payload", optimizer.Payloads{{Body: json.RawMessage(`{"payload":7}`), Weight: 1}}, `[{"payload":{"payload":7},"weight":1}]`},
		{"parameters named payload and weight", optimizer.Payloads{{Body: json.RawMessage(`{"payload":7,"weight":2}`), Weight: 1}},
			`[{"payload":{"payload":7,"weight":2},"weight":1}]`},
		{"parameters with more keys", optimizer.Payloads{{Body: json.RawMessage(`{"payload":7,"x":1}`), Weight: 1}}, `[{"payload":7,"x":1}]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw, err := json.Marshal(c.in)
			require.NoError(t, err)
			require.JSONEq(t, c.want, string(raw))
			var back optimizer.Payloads
			require.NoError(t, json.Unmarshal(raw, &back))
			require.Len(t, back, len(c.in))
			for i := range c.in {
				require.JSONEq(t, string(c.in[i].Body), string(back[i].Body))
				require.Equal(t, c.in[i].Weight, back[i].Weight)
			}
		})
	}
}
