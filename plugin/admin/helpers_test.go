package admin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/httpapi"
	"github.com/fnmgr/fnmgr/tests/logbuf"
)

const (
	testToken = "admin-token-0123456789abcdef"
	guestUUID = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502"
	guestKey  = "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
)

// fakeAuth knows the guest key; "broken" uuids fail as an unreachable
// database would.
type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, uuid, key string) (Identity, error) {
	switch {
	case uuid == guestUUID && key == guestKey:
		return Identity{Subject: "guest", Namespace: "guest", Namespaces: []string{"guest", "guest-two"}}, nil
	case uuid == "broken":
		return Identity{}, errors.New("admin: query subjects: connection refused")
	}
	return Identity{}, ErrUnauthenticated
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer = logbuf.Buffer

type testAPI struct {
	*API
	reg  *prometheus.Registry
	logs *syncBuffer
}

func newTestAPI(t *testing.T, mod func(*Options)) testAPI {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := httpapi.NewMetrics(reg)
	require.NoError(t, err)
	logs := &syncBuffer{}
	o := Options{
		Logger:        slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics:       m,
		Gatherer:      reg,
		Authenticator: fakeAuth{},
		AdminToken:    testToken,
	}
	if mod != nil {
		mod(&o)
	}
	a, err := New(o)
	require.NoError(t, err)
	return testAPI{API: a, reg: reg, logs: logs}
}

func basic(uuid, key string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(uuid+":"+key))
}

func bearer(tok string) string { return "Bearer " + tok }

type result struct {
	status int
	header http.Header
	body   []byte
}

// do serves one request; path is sent as written (percent-encoding kept).
func (a testAPI) do(t *testing.T, method, path, auth string, body io.Reader) result {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	return result{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// requireErrorShape checks OpenWhisk's error body and that its code is the
// request id echoed in the header.
func requireErrorShape(t *testing.T, r result) entity.Error {
	t.Helper()
	var e entity.Error
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&e), "body %s", r.body)
	require.NotEmpty(t, e.Error)
	require.True(t, strings.HasSuffix(e.Error, "."), "error %q should be a sentence", e.Error)
	require.NotEmpty(t, e.Code)
	require.Equal(t, r.header.Get(httpapi.RequestIDHeader), e.Code)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	return e
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
