package reqerr_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/plugin/reqerr"
)

// sentencer is a request error of a package that may not import reqerr
// (the optimizer's shape).
type sentencer struct{ kind error }

func (s sentencer) Error() string    { return "optimizer: maxInvocations 2 must be between 3 and 100" }
func (s sentencer) Unwrap() error    { return s.kind }
func (s sentencer) Sentence() string { return "maxInvocations 2 must be between 3 and 100." }

// TestErrors: what a client reads of each error and the status it gets.
func TestErrors(t *testing.T) {
	cause := errors.New("illegal base64 data at input byte 4")
	tests := []struct {
		name     string
		err      error
		kind     reqerr.Kind
		status   int
		sentence string
	}{
		{"field keeps its case", reqerr.Field("gpuNum", "%d must be between 0 and %d", 9, 8),
			reqerr.Invalid, 400, "gpuNum 9 must be between 0 and 8."},
		{"nested field", reqerr.Field("limits.memory", "64 MB below allowed threshold of 128 MB"),
			reqerr.Invalid, 400, "limits.memory 64 MB below allowed threshold of 128 MB."},
		{"field wrapped by a caller", fmt.Errorf("lifecycle: update guest/f: %w", reqerr.Field("exec.kind", "%q is not a runtime this deployment offers", "ruby:2.5")),
			reqerr.Invalid, 400, `exec.kind "ruby:2.5" is not a runtime this deployment offers.`},
		{"a sentence gets its capital", reqerr.New(reqerr.Invalid, "a sequence needs components"),
			reqerr.Invalid, 400, "A sequence needs components."},
		{"already a sentence", reqerr.New(reqerr.Conflict, "Done."), reqerr.Conflict, 409, "Done."},
		{"not found", reqerr.New(reqerr.NotFound, "version %d of %s does not exist", 3, "guest/f"),
			reqerr.NotFound, 404, "Version 3 of guest/f does not exist."},
		{"gone", reqerr.New(reqerr.Gone, "publish: function guest/f is RETIRED"), reqerr.Gone, 410, "Publish: function guest/f is RETIRED."},
		{"locked", reqerr.New(reqerr.Locked, "function guest/f has a update in progress"), reqerr.Locked, 423, "Function guest/f has a update in progress."},
		{"the cause stays out of the sentence", (&reqerr.Error{Kind: reqerr.Invalid, Field: "exec.code", Msg: "exec.code: bad base64"}).Wrap(cause),
			reqerr.Invalid, 400, "exec.code: bad base64."},
		{"another package's sentence", fmt.Errorf("admin: %w", sentencer{reqerr.ErrInvalid}),
			reqerr.Invalid, 400, "maxInvocations 2 must be between 3 and 100."},
		{"a bare sentinel", reqerr.ErrNotFound, reqerr.NotFound, 404, "The requested resource does not exist."},
		{"a store's conflict", fmt.Errorf("registry: create v:x: %w", reqerr.ErrConflict), reqerr.Conflict, 409,
			"The request conflicts with a change made at the same time; try again."},
		{"cancelled", fmt.Errorf("registry: get f:x: %w", context.Canceled), reqerr.Unavailable, 503,
			"The request ended before fnmgr could complete it; try again."},
		{"internal text stays inside", errors.New("couch: put f:x: Post http://admin:secret@couch/: refused"), reqerr.Internal, 500,
			"fnmgr could not complete the request; see its log for the request id."},
		{"internal even with a sentence", &reqerr.Error{Kind: reqerr.Internal, Msg: "secret detail"}, reqerr.Internal, 500,
			"fnmgr could not complete the request; see its log for the request id."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.kind, reqerr.KindOf(tc.err))
			require.Equal(t, tc.status, reqerr.KindOf(tc.err).Status())
			require.Equal(t, tc.sentence, reqerr.Sentence(tc.err))
		})
	}
}

// TestIs: every error of a kind matches that kind's sentinel only, and the
// cause stays in the chain.
func TestIs(t *testing.T) {
	sentinels := map[reqerr.Kind]error{reqerr.Invalid: reqerr.ErrInvalid, reqerr.NotFound: reqerr.ErrNotFound,
		reqerr.Conflict: reqerr.ErrConflict, reqerr.Gone: reqerr.ErrGone, reqerr.Locked: reqerr.ErrLocked}
	cause := errors.New("cause")
	for kind := range sentinels {
		err := fmt.Errorf("wrapped: %w", reqerr.New(kind, "x").Wrap(cause))
		for other, s := range sentinels {
			require.Equal(t, other == kind, errors.Is(err, s), "%s is %s", kind, other)
		}
		require.ErrorIs(t, err, cause)
	}
	require.Equal(t, "invalid request", reqerr.New(reqerr.Invalid, "").Error())
	require.Equal(t, "internal", (&reqerr.Error{Kind: reqerr.Internal}).Error())
}

// TestStatuses: one status per kind, and every kind is listed.
func TestStatuses(t *testing.T) {
	want := map[reqerr.Kind]int{reqerr.Invalid: http.StatusBadRequest, reqerr.NotFound: http.StatusNotFound,
		reqerr.Conflict: http.StatusConflict, reqerr.Gone: http.StatusGone, reqerr.Locked: http.StatusLocked,
		reqerr.Unavailable: http.StatusServiceUnavailable, reqerr.Internal: http.StatusInternalServerError}
	require.Len(t, reqerr.Kinds, len(want))
	for _, k := range reqerr.Kinds {
		require.Equal(t, want[k], k.Status(), "%s", k)
	}
}
