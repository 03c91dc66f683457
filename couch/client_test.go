package couch_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	kivik "github.com/go-kivik/kivik/v4"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/couch/couchtest"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestNewClientRequests(t *testing.T) {
	cases := []struct {
		name     string
		userinfo string
		opts     couch.ClientOptions
		wantAuth string
	}{
		{"no credentials", "", couch.ClientOptions{}, ""},
		{"credentials in URL", "admin:s3cret@", couch.ClientOptions{}, basic("admin", "s3cret")},
		{"escaped credentials in URL", "ad%40min:p%3Ass@", couch.ClientOptions{}, basic("ad@min", "p:ss")},
		{"options replace URL", "admin:s3cret@", couch.ClientOptions{Username: "whisk", Password: "pw"}, basic("whisk", "pw")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := couchtest.NewFake(t, couchtest.Options{})
			rawURL := strings.Replace(srv.URL, "http://", "http://"+tc.userinfo, 1)
			c, err := couch.NewClient(t.Context(), rawURL, tc.opts)
			require.NoError(t, err)
			defer c.Close()
			_, err = c.DB("db").Put(t.Context(), "doc", map[string]any{"big": strings.Repeat("x", 4096)})
			require.NoError(t, err)

			got := srv.Requests()
			require.Len(t, got, 2)
			require.Equal(t, "/", got[0].Path, "NewClient checks the server")
			require.Equal(t, http.MethodPut, got[1].Method)
			for _, r := range got {
				require.Equal(t, tc.wantAuth, r.Auth, r.Path)
				require.Empty(t, r.AcceptEncoding, "must not ask for compressed responses")
				require.Empty(t, r.ContentEncoding, "must not compress request bodies")
			}
		})
	}
}

func TestNewClientLazy(t *testing.T) {
	srv := couchtest.NewFake(t, couchtest.Options{})
	c, err := couch.NewClient(t.Context(), srv.URL, couch.ClientOptions{Lazy: true})
	require.NoError(t, err)
	defer c.Close()
	require.Empty(t, srv.Requests())
}

// TestNewClientHidesCredentials proves that neither errors nor logs carry the
// password.
func TestNewClientHidesCredentials(t *testing.T) {
	const secret = "s3cretPassw0rd"
	srv := couchtest.NewFake(t, couchtest.Options{})
	closed := testkit.ClosedAddr(t)
	cases := []struct {
		name    string
		url     string
		opts    couch.ClientOptions
		wantErr string
	}{
		{"unparsable URL", "http://admin:" + secret + "@[::1", couch.ClientOptions{}, "invalid server URL"},
		{"wrong scheme", "ftp://admin:" + secret + "@127.0.0.1:1", couch.ClientOptions{}, "scheme must be http or https"},
		{"no host", "http://", couch.ClientOptions{}, "no host"},
		{"unreachable", "http://admin:" + secret + "@" + closed, couch.ClientOptions{}, "couch: contact http://" + closed},
		{"unreachable, password in options", "http://" + closed, couch.ClientOptions{Username: "admin", Password: secret}, "couch: contact"},
		{"connected", strings.Replace(srv.URL, "http://", "http://admin:"+secret+"@", 1), couch.ClientOptions{}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			tc.opts.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			c, err := couch.NewClient(t.Context(), tc.url, tc.opts)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.NoError(t, c.Close())
				require.Contains(t, logs.String(), "connected")
			} else {
				require.ErrorContains(t, err, tc.wantErr)
				require.NotContains(t, err.Error(), secret)
			}
			require.NotContains(t, logs.String(), secret)
		})
	}
}

// TestTransportLimits documents which requests the header and stall limits
// apply to, against a server that misbehaves in each way.
func TestTransportLimits(t *testing.T) {
	const limit = 100 * time.Millisecond
	opts := couch.ClientOptions{
		ResponseHeaderTimeout: limit,
		ReadStallTimeout:      limit,
		FeedGrace:             limit,
	}
	// hold blocks a handler until the test ends.
	hold := func(r *http.Request) { <-r.Context().Done() }
	// wait blocks a handler for d (the server being slow on purpose).
	wait := func(r *http.Request, d time.Duration) {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
	}
	cases := []struct {
		name    string
		path    string
		handler func(w http.ResponseWriter, r *http.Request)
		// pause between the client's reads of the body
		readPause time.Duration
		wantErr   bool
		wantBody  string
	}{
		{
			name:    "ordinary request: no headers",
			path:    "/db/doc",
			handler: func(w http.ResponseWriter, r *http.Request) { hold(r) },
			wantErr: true,
		},
		{
			name: "ordinary request: body stalls",
			path: "/db/_all_docs",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, `{"rows":[`)
				w.(http.Flusher).Flush()
				hold(r)
			},
			wantErr: true,
		},
		{
			name: "ordinary request: slow reader is not cut",
			path: "/db/_all_docs",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, strings.Repeat("x", 1<<20))
			},
			readPause: 3 * limit,
			wantBody:  strings.Repeat("x", 1<<20),
		},
		{
			name: "continuous feed without heartbeat: headers may come late",
			path: "/db/_changes?feed=continuous",
			handler: func(w http.ResponseWriter, r *http.Request) {
				wait(r, 4*limit)
				_, _ = io.WriteString(w, `{"seq":1}`+"\n")
			},
			wantBody: `{"seq":1}` + "\n",
		},
		{
			name: "longpoll feed with timeout: may be silent for the timeout",
			path: "/db/_changes?feed=longpoll&timeout=300",
			handler: func(w http.ResponseWriter, r *http.Request) {
				wait(r, 300*time.Millisecond)
				_, _ = io.WriteString(w, `{"results":[],"last_seq":"1-x"}`)
			},
			wantBody: `{"results":[],"last_seq":"1-x"}`,
		},
		{
			name: "continuous feed with heartbeat: heartbeats keep it open",
			path: "/db/_changes?feed=continuous&heartbeat=50",
			handler: func(w http.ResponseWriter, r *http.Request) {
				for range 10 { // 500 ms, far past the 200 ms limit
					_, _ = io.WriteString(w, "\n")
					w.(http.Flusher).Flush()
					wait(r, 50*time.Millisecond)
				}
				_, _ = io.WriteString(w, `{"seq":2}`+"\n")
			},
			wantBody: strings.Repeat("\n", 10) + `{"seq":2}` + "\n",
		},
		{
			name: "continuous feed with heartbeat: silence means a dead connection",
			path: "/db/_changes?feed=continuous&heartbeat=50",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "\n")
				w.(http.Flusher).Flush()
				hold(r)
			},
			wantErr: true,
		},
		{
			name:    "continuous feed with heartbeat: no headers",
			path:    "/db/_changes?feed=continuous&heartbeat=50",
			handler: func(w http.ResponseWriter, r *http.Request) { hold(r) },
			wantErr: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(tc.handler))
			defer srv.Close()
			defer srv.CloseClientConnections()
			hc := &http.Client{Transport: couch.NewTransport(opts)}
			body, err := getBody(t.Context(), hc, srv.URL+tc.path, tc.readPause)
			if tc.wantErr {
				require.ErrorIs(t, err, couch.ErrTimeout)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantBody, body)
		})
	}
}

func getBody(ctx context.Context, hc *http.Client, url string, pause time.Duration) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		out.Write(buf[:n])
		if errors.Is(err, io.EOF) {
			return out.String(), nil
		}
		if err != nil {
			return out.String(), err
		}
		if pause > 0 {
			<-time.After(pause)
			pause = 0 // once is enough to prove it
		}
	}
}

// TestTransportTimeoutThroughKivik proves ErrTimeout survives kivik's error
// wrapping.
func TestTransportTimeoutThroughKivik(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	defer srv.CloseClientConnections()
	c, err := couch.NewClient(t.Context(), srv.URL, couch.ClientOptions{Lazy: true, ResponseHeaderTimeout: 50 * time.Millisecond})
	require.NoError(t, err)
	defer c.Close()
	err = c.DB("db").Get(t.Context(), "doc").Err()
	require.ErrorIs(t, err, couch.ErrTimeout)
	require.Equal(t, http.StatusBadGateway, kivik.HTTPStatus(err))
}

func TestEnsureDB(t *testing.T) {
	cases := []struct {
		name      string
		head, put int // statuses the server answers; 0 = not expected
		wantErr   string
	}{
		{"exists", http.StatusOK, 0, ""},
		{"created", http.StatusNotFound, http.StatusCreated, ""},
		{"lost a creation race", http.StatusNotFound, http.StatusPreconditionFailed, ""},
		{"not allowed to create", http.StatusNotFound, http.StatusUnauthorized, `couch: create database "whisks"`},
		{"server error", http.StatusInternalServerError, 0, `couch: check database "whisks"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var puts int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/whisks" {
					t.Errorf("unexpected path %s", r.URL.Path)
				}
				w.Header().Set("Content-Type", "application/json")
				switch r.Method {
				case http.MethodHead:
					w.WriteHeader(tc.head)
				case http.MethodPut:
					puts++
					if tc.put == 0 {
						t.Error("unexpected PUT")
						tc.put = http.StatusInternalServerError
					}
					w.WriteHeader(tc.put)
					_, _ = io.WriteString(w, `{"ok":true}`)
				default:
					t.Errorf("unexpected %s", r.Method)
				}
			}))
			defer srv.Close()
			c, err := couch.NewClient(t.Context(), srv.URL, couch.ClientOptions{Lazy: true})
			require.NoError(t, err)
			defer c.Close()

			err = couch.EnsureDB(t.Context(), c, "whisks")
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			if tc.put != 0 {
				require.Equal(t, 1, puts)
			}
		})
	}
}
