package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	kivik "github.com/go-kivik/kivik/v4"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fnmgr/fnmgr/deploy/local/broker"
	"github.com/fnmgr/fnmgr/deploy/local/seed"
	"github.com/fnmgr/fnmgr/tests/couchtest"
	"github.com/fnmgr/fnmgr/tests/logbuf"
)

// The integration tests run the controller against the package's
// pouchdb-server (couchtest) and a kfake broker of their own, and drive it
// with openwhisk-client-go and plain HTTP.

func TestMain(m *testing.M) { couchtest.Main(m) }

// lockedBuffer collects logs from several goroutines.
type lockedBuffer = logbuf.Buffer

// env is one controller over databases and a broker of its own.
type env struct {
	t       *testing.T
	ctl     *Controller
	url     string
	prefix  string
	couch   *kivik.Client
	brokers []string
	wsk     *whisk.Client
	logs    *lockedBuffer
}

// newEnv seeds fresh databases, starts a broker and a controller, and
// checks at the end that no secret reached the logs.
func newEnv(t *testing.T, tweak ...func(*Options)) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	ctx := t.Context()
	e := &env{t: t, prefix: couchtest.Prefix(t), couch: couchtest.Client(t), logs: &lockedBuffer{}}
	require.NoError(t, seed.Run(ctx, seed.Options{Client: e.couch, DBPrefix: e.prefix}))
	b, err := broker.Start(ctx, broker.Options{Topics: broker.DefaultTopics(1, 1)})
	require.NoError(t, err)
	t.Cleanup(b.Stop)
	e.brokers = b.Addrs()
	o := Options{
		Addr: "127.0.0.1:0", CouchURL: couchtest.URL(t), DBPrefix: e.prefix, Brokers: e.brokers,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range tweak {
		f(&o)
	}
	e.ctl, err = New(ctx, o)
	require.NoError(t, err)
	require.NoError(t, e.ctl.Start(ctx))
	e.url = e.ctl.URL()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		require.NoError(t, e.ctl.Stop(sctx))
		for _, secret := range []string{seed.GuestKey, "PARAM-SECRET"} {
			require.NotContains(t, e.logs.String(), secret, "logs leak a secret")
		}
	})
	e.wsk = e.client(seed.GuestAuth)
	return e
}

// client returns an openwhisk-client-go client for auth ("uuid:key").
func (e *env) client(auth string) *whisk.Client {
	e.t.Helper()
	base, err := url.Parse(e.url + "/api")
	require.NoError(e.t, err)
	c, err := whisk.NewClient(&http.Client{Timeout: 90 * time.Second}, &whisk.Config{
		Host: strings.TrimPrefix(e.url, "http://"), BaseURL: base, Namespace: "_", AuthToken: auth,
	})
	require.NoError(e.t, err)
	return c
}

// response is a raw HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

// errorBody decodes an OpenWhisk error and checks its transaction id.
func (r response) errorBody(t *testing.T) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	r.json(t, &e)
	require.Len(t, e.Code, 32, "transaction id")
	return e.Error
}

// do sends a request with the guest's credentials (auth "" sends none).
func (e *env) do(method, path, auth string, body any) response {
	e.t.Helper()
	var rd io.Reader
	var ct string
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case []byte:
		rd, ct = bytes.NewReader(b), "application/json"
	default:
		raw, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd, ct = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.url+path, rd)
	require.NoError(e.t, err)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if auth != "" {
		u, k, _ := strings.Cut(auth, ":")
		req.SetBasicAuth(u, k)
	}
	return e.send(req)
}

// send performs req and reads the whole answer.
func (e *env) send(req *http.Request) response {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// guest sends a request as the guest.
func (e *env) guest(method, path string, body any) response {
	e.t.Helper()
	return e.do(method, path, seed.GuestAuth, body)
}

// rawDoc reads a whisks document as stored.
func (e *env) rawDoc(id string) map[string]any {
	e.t.Helper()
	var doc map[string]any
	require.NoError(e.t, e.couch.DB(e.prefix+"whisks").Get(e.t.Context(), id).ScanDoc(&doc))
	return doc
}

// topicReader reads a topic from the start under a group of its own and
// keeps what it has not matched yet.
type topicReader struct {
	cl      *kgo.Client
	pending [][]byte
}

func (e *env) consumer(topic string) *topicReader {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
	require.NoError(e.t, err)
	e.t.Cleanup(cl.Close)
	return &topicReader{cl: cl}
}

// next returns (and consumes) the first record match accepts, waiting up to
// 30 s for it.
func (r *topicReader) next(t *testing.T, match func([]byte) bool) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		for i, b := range r.pending {
			if match(b) {
				r.pending = append(r.pending[:i:i], r.pending[i+1:]...)
				return b
			}
		}
		fs := r.cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "no matching record")
		fs.EachRecord(func(rec *kgo.Record) { r.pending = append(r.pending, rec.Value) })
	}
}
