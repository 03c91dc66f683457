package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/deploy/local/broker"
	"github.com/fnmgr/fnmgr/deploy/local/couchdb"
	"github.com/fnmgr/fnmgr/kafka/message"
	"github.com/fnmgr/fnmgr/tests/couchtest"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

// fastCouchBackoff keeps the tests' waits for CouchDB short.
var fastCouchBackoff = backoff{first: 20 * time.Millisecond, max: 100 * time.Millisecond}

// logged returns Options that log at debug into a buffer.
func logged(o Options) (Options, *syncBuffer) {
	var buf syncBuffer
	o.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return o, &buf
}

// TestStartWaitsForCouchDB starts fnmgr with nothing on CouchDB's port:
// it serves /healthz, says on /readyz that it waits for CouchDB, retries,
// and once pouchdb-server starts on that port it creates its databases and
// becomes ready (a Kafka broker of the test's own runs from the start).
func TestStartWaitsForCouchDB(t *testing.T) {
	if testing.Short() {
		t.Skip("runs pouchdb-server; skipped with -short")
	}
	b, err := broker.Start(t.Context(), broker.Options{Topics: []string{message.TopicHealth, message.TopicEvents}})
	require.NoError(t, err)
	t.Cleanup(b.Stop)
	couchAddr := testkit.ClosedAddr(t)
	o, logs := logged(testOptions(t, "http://127.0.0.1:1"))
	o.Config.CouchURL = &url.URL{Scheme: "http", Host: couchAddr}
	o.Config.KafkaBrokers = b.Addrs()
	a, err := New(o)
	require.NoError(t, err)
	a.couchBackoff = fastCouchBackoff
	require.NoError(t, a.Start(context.Background()), "Start must not wait for CouchDB")
	t.Cleanup(func() { require.NoError(t, a.Stop(context.Background())) })
	admin := "http://" + a.AdminAddr()

	code, body := get(t, admin+"/healthz", "")
	require.Equal(t, http.StatusOK, code, "live while waiting: %s", body)
	code, body = get(t, admin+"/readyz", "")
	require.Equal(t, http.StatusServiceUnavailable, code, body)
	require.Contains(t, body, "couchdb: waiting for CouchDB")
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), `"try":3`) },
		10*time.Second, 10*time.Millisecond, "fnmgr keeps trying")

	_, port, err := net.SplitHostPort(couchAddr)
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	srv, err := couchdb.Start(t.Context(), couchdb.Options{Dir: t.TempDir(), Port: p})
	if errors.Is(err, couchdb.ErrBinaryNotFound) && os.Getenv("CI") == "" {
		t.Skipf("pouchdb-server not installed (make deps): %v", err)
	}
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Stop(ctx)
	})
	// OpenWhisk's own database, which fnmgr follows but never creates.
	req, err := http.NewRequest(http.MethodPut, srv.URL()+"/"+o.Config.WhisksDB(), nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	require.Eventually(t, func() bool {
		code, _ := get(t, admin+"/readyz", "")
		return code == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond, "ready once CouchDB answers: %v", a.Ready(context.Background()))
	for _, db := range []string{o.Config.RegistryDB(), o.Config.ArtifactsDB()} {
		code, body := get(t, srv.URL()+"/"+db, "")
		require.Equal(t, http.StatusOK, code, "database %s created: %s", db, body)
	}
	require.Contains(t, logs.String(), `"msg":"CouchDB available"`)
	code, body = get(t, admin+"/v1/namespaces/guest/functions", "Bearer "+testToken)
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, a.Stop(context.Background()), "fnmgr stops before CouchDB does")
}

// TestStopWhileWaitingForCouchDB: a stop (SIGTERM, Ctrl-C) during the wait
// is prompt, and the wait logs each try once, at warn, without CouchDB's
// credentials.
func TestStopWhileWaitingForCouchDB(t *testing.T) {
	const password = "couch-s3cret-pw"
	o, logs := logged(testOptions(t, "http://127.0.0.1:1"))
	o.Config.CouchURL = &url.URL{Scheme: "http", User: url.UserPassword("whisk_admin", password), Host: testkit.ClosedAddr(t)}
	a, err := New(o)
	require.NoError(t, err)
	a.couchBackoff = fastCouchBackoff
	require.NoError(t, a.Start(context.Background()))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), `"try":3`) },
		10*time.Second, 10*time.Millisecond)
	require.Contains(t, a.Ready(context.Background()), "couchdb: waiting for CouchDB")

	start := time.Now()
	require.NoError(t, a.Stop(context.Background()))
	require.Less(t, time.Since(start), 2*time.Second, "stop during the wait is prompt")

	out := logs.String()
	require.NotContains(t, out, password)
	require.NotContains(t, out, "whisk_admin", "the URL is logged without its user")
	var tries int
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `"msg":"CouchDB unavailable; retrying"`) {
			tries++
			if tries == 1 {
				t.Logf("logged: %s", line)
			}
			require.Contains(t, line, `"level":"WARN"`)
			require.Contains(t, line, `"component":"app"`)
			require.Contains(t, line, `"url":"http://`+o.Config.CouchURL.Host+`"`)
			require.Contains(t, line, `"try":`+strconv.Itoa(tries)+`,`, "one line per try, in order")
		}
	}
	require.GreaterOrEqual(t, tries, 3)
}

// TestStartFailsOnCouchDBConfiguration: answers that retrying cannot change
// (wrong credentials, no right to the databases) fail Start at once, with
// an error that names the setting, not the password; what Start opened is
// closed again.
func TestStartFailsOnCouchDBConfiguration(t *testing.T) {
	const password = "wrong-pw-123"
	status := func(code int) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_, _ = w.Write([]byte(`{"error":"nope","reason":"test"}`))
		}))
		t.Cleanup(s.Close)
		return s.URL
	}
	cases := []struct {
		name  string
		couch func() string // CouchDB's URL, without credentials
		want  []string
	}{
		{"wrong credentials (pouchdb-server)", func() string { return couchtest.URL(t) },
			[]string{"refuses fnmgr's credentials (HTTP 401)", "--couchdb-url (FNMGR_COUCHDB_URL)"}},
		{"no right to create the databases", func() string { return status(http.StatusForbidden) },
			[]string{"(HTTP 403)", "does not let fnmgr's user"}},
		{"a bad request", func() string { return status(http.StatusBadRequest) },
			[]string{"(HTTP 400)", "database prefixes"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions(t, "http://127.0.0.1:1")
			u, err := url.Parse(tc.couch())
			require.NoError(t, err)
			u.User = url.UserPassword("whisk_admin", password)
			o.Config.CouchURL = u
			o.Config.AdminAddr = testkit.ClosedAddr(t)
			a, err := New(o)
			require.NoError(t, err)
			a.couchBackoff = fastCouchBackoff
			start := time.Now()
			err = a.Start(context.Background())
			require.Error(t, err)
			require.Less(t, time.Since(start), 5*time.Second, "fails fast")
			t.Logf("Start: %v", err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
			require.NotContains(t, err.Error(), password)
			ln, lerr := net.Listen("tcp", o.Config.AdminAddr)
			require.NoError(t, lerr, "nothing listens after a failed Start")
			require.NoError(t, ln.Close())
		})
	}
}

// TestCouchDBRefusesAfterWaiting: CouchDB first answers 503 (starting),
// which is waited out, then 401, which no wait fixes: the failure comes on
// Err, for the caller to stop.
func TestCouchDBRefusesAfterWaiting(t *testing.T) {
	var calls atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if calls.Add(1) <= 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer s.Close()
	o, logs := logged(testOptions(t, "http://127.0.0.1:1"))
	u, err := url.Parse(s.URL)
	require.NoError(t, err)
	o.Config.CouchURL = u
	a, err := New(o)
	require.NoError(t, err)
	a.couchBackoff = fastCouchBackoff
	require.NoError(t, a.Start(context.Background()))
	defer func() { require.NoError(t, a.Stop(context.Background())) }()
	select {
	case err := <-a.Err():
		require.ErrorContains(t, err, "refuses fnmgr's credentials (HTTP 401)")
	case <-time.After(10 * time.Second):
		t.Fatalf("no error on Err; logs: %s", logs)
	}
	require.Equal(t, 3, strings.Count(logs.String(), "CouchDB unavailable; retrying"), "each 503 is one try")
	_, metrics := get(t, "http://"+a.AdminAddr()+"/metrics", "")
	require.Contains(t, metrics, "\nfnmgr_couchdb_start_unavailable_total 3\n")
	require.Contains(t, a.Ready(context.Background()), "couchdb: waiting for CouchDB")
}
