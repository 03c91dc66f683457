package couch_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	kivik "github.com/go-kivik/kivik/v4"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch"
)

// TestClassify reads real kivik errors (a client against a server that
// answers each status) and checks the class Classify gives, that the cause
// and its message survive, and that Classify is idempotent.
func TestClassify(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.URL.Query().Get("rev"))
		if err != nil {
			code = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = fmt.Fprintf(w, `{"error":"e%d","reason":"reason %d"}`, code, code)
	}))
	defer srv.Close()
	c, err := couch.NewClient(t.Context(), srv.URL, couch.ClientOptions{Lazy: true})
	require.NoError(t, err)
	defer c.Close()

	all := []error{couch.ErrNotFound, couch.ErrConflict, couch.ErrExists, couch.ErrUnauthorized, couch.ErrForbidden, couch.ErrUnavailable}
	for _, tc := range []struct {
		status int
		want   error // nil: no class
	}{
		{http.StatusNotFound, couch.ErrNotFound},
		{http.StatusConflict, couch.ErrConflict},
		{http.StatusPreconditionFailed, couch.ErrExists},
		{http.StatusUnauthorized, couch.ErrUnauthorized},
		{http.StatusForbidden, couch.ErrForbidden},
		{http.StatusInternalServerError, couch.ErrUnavailable},
		{http.StatusServiceUnavailable, couch.ErrUnavailable},
		{http.StatusTooManyRequests, couch.ErrUnavailable},
		{http.StatusRequestTimeout, couch.ErrUnavailable},
		{http.StatusBadRequest, nil},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			raw := c.DB("db").Get(t.Context(), "doc", kivik.Rev(strconv.Itoa(tc.status))).Err()
			require.Error(t, raw)
			require.Equal(t, tc.status, couch.Status(raw))
			err := couch.Classify(fmt.Errorf("read doc: %w", raw))
			require.Equal(t, "read doc: "+raw.Error(), err.Error(), "the message is the cause's")
			require.ErrorIs(t, err, raw, "the cause stays in the chain")
			require.Equal(t, tc.status, kivik.HTTPStatus(err), "kivik still reads the status")
			for _, class := range all {
				require.Equal(t, class == tc.want, errors.Is(err, class), "%v", class)
			}
			require.Equal(t, err, couch.Classify(err), "idempotent")
			require.Equal(t, tc.want == couch.ErrNotFound, couch.IsNotFound(raw))
			require.Equal(t, tc.want == couch.ErrConflict, couch.IsConflict(raw))
		})
	}

	t.Run("no status", func(t *testing.T) {
		for _, err := range []error{context.Canceled, errors.New("encode: bad"), nil} {
			require.Equal(t, err, couch.Classify(err))
			require.Zero(t, couch.Status(err))
		}
	})
	t.Run("batch errors", func(t *testing.T) {
		err := couch.Classify(&couch.StatusError{Status: http.StatusNotFound, ID: "x", Reason: "missing"})
		require.ErrorIs(t, err, couch.ErrNotFound)
		require.Equal(t, "couch: x: missing (404)", err.Error())
	})
}
