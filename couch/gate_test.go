package couch_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch"
)

func TestIsWrite(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		write        bool
	}{
		{"GET", "/db/doc", false},
		{"HEAD", "/db/doc", false},
		{"PUT", "/db/doc", true},
		{"DELETE", "/db/doc?rev=1-a", true},
		{"COPY", "/db/doc", true},
		{"POST", "/db", true},
		{"POST", "/db/_bulk_docs", true},
		{"POST", "/db/_all_docs", false},
		{"POST", "/db/_find", false},
		{"POST", "/db/_bulk_get", false},
		{"POST", "/db/_changes", false},
		{"POST", "/db/_design/d/_view/v/queries", false},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "http://couch"+tc.path, nil)
			require.Equal(t, tc.write, couch.IsWrite(req))
		})
	}
}

// TestWriteGateRefusesBeforeSending: a write the gate refuses never
// reaches the server, and the call's error wraps the gate's; reads pass.
func TestWriteGateRefusesBeforeSending(t *testing.T) {
	var writes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writes.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	errFenced := errors.New("fenced")
	var open atomic.Bool
	rt := couch.NewTransport(couch.ClientOptions{WriteGate: func(*http.Request) error {
		if open.Load() {
			return nil
		}
		return errFenced
	}})
	c := &http.Client{Transport: rt}

	resp, err := c.Get(srv.URL + "/db/doc")
	require.NoError(t, err)
	resp.Body.Close()

	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/db/doc", strings.NewReader("{}"))
	_, err = c.Do(req)
	require.ErrorIs(t, err, errFenced)
	require.Zero(t, writes.Load(), "a refused write must not be sent")

	open.Store(true)
	req, _ = http.NewRequest(http.MethodPut, srv.URL+"/db/doc", strings.NewReader("{}"))
	resp, err = c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.EqualValues(t, 1, writes.Load())
}
