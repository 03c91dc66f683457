// Package couch connects fnmgr and the local stack to a CouchDB-protocol
// server: Apache CouchDB 3.x in a real deployment, pouchdb-server in the local
// stack. Only CouchDB's documented HTTP API is used, so whatever works against
// one works against the other.
//
// Differences this package absorbs:
//
//   - pouchdb-server gzips responses for clients that accept gzip, and its
//     compression holds a continuous _changes feed back until the response
//     ends. NewClient's transport never asks for compressed responses (and
//     never compresses request bodies).
//   - Update sequences are integers on pouchdb-server and opaque strings on
//     CouchDB 3. Seq keeps either as an opaque string.
//   - pouchdb-server sends the headers of a continuous feed only with its
//     first line, a change or a heartbeat, so kivik's DB.Changes may block
//     for up to one heartbeat interval before it returns; changes made
//     meanwhile are not lost. Ask for a heartbeat, and keep it short (a few
//     seconds), on every continuous feed.
//
// A *kivik.Client from NewClient is safe for concurrent use.
package couch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	kivik "github.com/go-kivik/kivik/v4"
	"github.com/go-kivik/kivik/v4/couchdb" // registers the "couch" driver
)

// Defaults for ClientOptions.
const (
	DefaultDialTimeout           = 5 * time.Second
	DefaultTLSHandshakeTimeout   = 10 * time.Second
	DefaultResponseHeaderTimeout = 60 * time.Second
	DefaultReadStallTimeout      = 60 * time.Second
	DefaultFeedGrace             = 10 * time.Second
	DefaultMaxIdleConnsPerHost   = 16
	// DefaultIdleConnTimeout is below pouchdb-server's (node's) 5 s
	// keep-alive, so that a connection is not reused just as the server
	// closes it, which fails requests Go does not retry (POST).
	DefaultIdleConnTimeout = 4 * time.Second
)

// ClientOptions configures NewClient. For the durations, zero means the
// default and a negative value turns the limit off.
//
// There is no overall request timeout, since it would cut change feeds: the
// caller's context bounds each call. Instead:
//
//   - DialTimeout and TLSHandshakeTimeout bound connecting.
//   - ResponseHeaderTimeout bounds the wait for response headers, and
//     ReadStallTimeout bounds any one read of a response body that makes no
//     progress (a slow but moving transfer is never cut), for every request
//     except change feeds.
//   - A change feed (_changes or _db_updates with feed=longpoll, continuous or
//     eventsource) that asks for heartbeat=H is cut when it is silent for
//     2*H+FeedGrace, before or after its headers, which detects a dead
//     connection; one that asks for timeout=T (and no heartbeat) is cut after
//     T+FeedGrace of silence; one with neither is never cut.
type ClientOptions struct {
	// Username and Password, when Username is set, replace any credentials
	// in the URL. Credentials are sent with HTTP Basic authentication.
	Username, Password string

	DialTimeout           time.Duration
	TLSHandshakeTimeout   time.Duration
	ResponseHeaderTimeout time.Duration
	ReadStallTimeout      time.Duration
	FeedGrace             time.Duration
	// IdleConnTimeout closes connections idle this long.
	IdleConnTimeout time.Duration

	// MaxIdleConnsPerHost bounds the connections kept for reuse;
	// DefaultMaxIdleConnsPerHost when zero.
	MaxIdleConnsPerHost int
	// TLSConfig for https URLs; Go's defaults when nil.
	TLSConfig *tls.Config
	// Lazy skips the GET / that NewClient otherwise makes to check that the
	// server answers.
	Lazy bool
	// UserAgent is added to kivik's User-Agent header when set.
	UserAgent string
	// Logger; nothing is logged when nil.
	Logger *slog.Logger
	// WriteGate, when set, is asked right before every request that may
	// change a database (IsWrite); when it returns an error the request is
	// not sent and the call fails with that error wrapped. fnmgr's replicas
	// pass their leader lease's fencing check here, so that a replica that
	// lost the lead cannot land a write. It must be safe for concurrent use.
	WriteGate func(*http.Request) error
}

// withDefaults fills in zero values and turns negative durations into zero
// (off).
func (o ClientOptions) withDefaults() ClientOptions {
	def := func(d *time.Duration, v time.Duration) {
		switch {
		case *d == 0:
			*d = v
		case *d < 0:
			*d = 0
		}
	}
	def(&o.DialTimeout, DefaultDialTimeout)
	def(&o.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout)
	def(&o.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	def(&o.ReadStallTimeout, DefaultReadStallTimeout)
	def(&o.FeedGrace, DefaultFeedGrace)
	def(&o.IdleConnTimeout, DefaultIdleConnTimeout)
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// NewClient returns a kivik client for the server at rawURL (such as
// http://user:pass@127.0.0.1:5984), with credentials from the URL or o. Unless
// o.Lazy, it checks that the server answers GET / within ctx. Errors never
// include the credentials.
func NewClient(ctx context.Context, rawURL string, o ClientOptions) (*kivik.Client, error) {
	o = o.withDefaults()
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse's error quotes the input, password included.
		return nil, errors.New("couch: invalid server URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("couch: server URL %s: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("couch: server URL %s: no host", u.Redacted())
	}
	user, pass := o.Username, o.Password
	if user == "" && u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	u.User = nil

	opts := []kivik.Option{
		couchdb.OptionHTTPClient(&http.Client{Transport: NewTransport(o)}),
		// pouchdb-server and CouchDB before 3.2 do not all accept gzipped
		// request bodies; on a local link they buy nothing.
		couchdb.OptionNoRequestCompression(),
	}
	if o.UserAgent != "" {
		opts = append(opts, couchdb.OptionUserAgent(o.UserAgent))
	}
	if user != "" {
		opts = append(opts, couchdb.BasicAuth(user, pass))
	}
	c, err := kivik.New("couch", u.String(), opts...)
	if err != nil {
		return nil, fmt.Errorf("couch: new client for %s: %w", u, err)
	}
	if o.Lazy {
		return c, nil
	}
	v, err := c.Version(ctx)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("couch: contact %s: %w", u, err)
	}
	o.Logger.Info("connected to CouchDB-protocol server", "component", "couch", "url", u.String(), "vendor", v.Vendor, "version", v.Version)
	return c, nil
}

// NewTransport returns the http.RoundTripper NewClient uses: an
// http.Transport that never asks for compressed responses, wrapped to apply
// the per-request limits described on ClientOptions. It is exported for
// clients that talk to CouchDB without kivik.
func NewTransport(o ClientOptions) http.RoundTripper {
	o = o.withDefaults()
	dialer := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}
	base := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		TLSClientConfig:     o.TLSConfig,
		TLSHandshakeTimeout: o.TLSHandshakeTimeout,
		// pouchdb-server buffers gzip output, holding change feeds back.
		DisableCompression:    true,
		MaxIdleConns:          4 * o.MaxIdleConnsPerHost,
		MaxIdleConnsPerHost:   o.MaxIdleConnsPerHost,
		IdleConnTimeout:       o.IdleConnTimeout,
		ExpectContinueTimeout: time.Second,
		// ResponseHeaderTimeout stays 0 here: limitTransport applies it
		// per request, so that change feeds are exempt.
	}
	var rt http.RoundTripper = &limitTransport{
		base:      base,
		header:    o.ResponseHeaderTimeout,
		stall:     o.ReadStallTimeout,
		feedGrace: o.FeedGrace,
	}
	if o.WriteGate != nil {
		rt = &gateTransport{base: rt, gate: o.WriteGate}
	}
	return rt
}
