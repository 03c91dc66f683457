// Package client calls fnmgr's admin API (SPEC.md section 2) for the fnmgr
// CLI and for scripts written in Go.
//
// Every call takes a context and is bounded by Options.Timeout. Errors the
// API answers come back as *APIError, which carries the API's sentence and
// the request id; transport errors are wrapped with %w. The Authorization
// header is never part of an error or a log line. A Client is safe for
// concurrent use.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fnmgr/fnmgr/plugin/api"
)

// DefaultTimeout bounds one request when Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// maxResponseBytes bounds a response body (a version with its code).
const maxResponseBytes = 64 << 20

// Options configure a Client.
type Options struct {
	// BaseURL is the admin API's root, such as http://127.0.0.1:3235.
	BaseURL string
	// Authorization is the header value sent with every request:
	// "Basic <base64 uuid:key>" or "Bearer <admin token>". Use BasicAuth or
	// BearerAuth to build it.
	Authorization string
	// Namespace is the namespace of the functions; "_" (the default) is
	// the caller's own, which the admin token does not have.
	Namespace string
	// Timeout bounds each request (DefaultTimeout when zero).
	Timeout time.Duration
	// HTTPClient sends the requests; a fresh one when nil.
	HTTPClient *http.Client
	// UserAgent is sent as User-Agent when set.
	UserAgent string
}

// Client calls the admin API.
type Client struct {
	o    Options
	base *url.URL
}

// New validates o.
func New(o Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(o.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: the admin API URL %q is not an http(s) URL with a host", o.BaseURL)
	}
	if u.User != nil {
		return nil, errors.New("client: the admin API URL must not carry credentials; use the Authorization option")
	}
	if o.Namespace == "" {
		o.Namespace = "_"
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	return &Client{o: o, base: u}, nil
}

// Namespace is the namespace the client acts in.
func (c *Client) Namespace() string { return c.o.Namespace }

// BaseURL is the admin API's root.
func (c *Client) BaseURL() string { return c.base.String() }

// APIError is an error the admin API answered, in OpenWhisk's shape.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Message is the API's sentence (or the status text when the body
	// had none).
	Message string
	// Code is the request id, to find the request in fnmgr's log.
	Code string
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return e.Message
	}
	return fmt.Sprintf("%s (code %s)", e.Message, e.Code)
}

// IsStatus reports whether err is an *APIError with the given status.
func IsStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}

// functionPath is the path of function name ("hello" or "pkg/hello", the
// slash sent as %2F) followed by the escaped segments of sub.
func (c *Client) functionPath(name string, sub ...string) string {
	var b strings.Builder
	b.WriteString("/v1/namespaces/")
	b.WriteString(url.PathEscape(c.o.Namespace))
	b.WriteString("/functions")
	if name != "" {
		b.WriteString("/")
		b.WriteString(url.PathEscape(name))
	}
	for _, s := range sub {
		b.WriteString("/")
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// do sends one request. in (when not nil) is sent as JSON; a 2xx answer is
// decoded into out (when not nil). It returns the status code.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("client: encode the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	target := c.base.String() + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return 0, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.o.Authorization != "" {
		req.Header.Set("Authorization", c.o.Authorization)
	}
	if c.o.UserAgent != "" {
		req.Header.Set("User-Agent", c.o.UserAgent)
	}
	resp, err := c.o.HTTPClient.Do(req)
	if err != nil {
		return 0, transportError(ctx, method, c.base.Host, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("client: %s %s: read the answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, apiError(resp, raw)
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("client: %s %s: the answer is not the expected JSON: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// transportError says what went wrong without the URL's query or any
// header: the host and the cause.
func transportError(ctx context.Context, method, host string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("client: %s to the admin API at %s timed out: %w", method, host, err)
	}
	return fmt.Errorf("client: cannot reach the admin API at %s (is fnmgr running? set --admin or FNMGR_ADMIN): %w", host, err)
}

func apiError(resp *http.Response, raw []byte) error {
	var e api.Error
	ae := &APIError{Status: resp.StatusCode}
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		ae.Message, ae.Code = e.Error, e.Code
	} else {
		ae.Message = fmt.Sprintf("the admin API answered %s", resp.Status)
	}
	if ae.Code == "" {
		ae.Code = resp.Header.Get("X-Request-ID")
	}
	return ae
}
