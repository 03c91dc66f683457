package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// KeySource finds a namespace's API key ("uuid:key");
// plugin/subjects.Source implements it. Keys are secrets: never logged,
// never put in errors.
type KeySource interface {
	KeyFor(ctx context.Context, ns string) (string, error)
}

// Invoker runs an action once, blocking, and returns its activation.
type Invoker interface {
	Invoke(ctx context.Context, ns, action string, payload json.RawMessage) (Activation, error)
}

// Activation is what an invocation tells the optimizer.
type Activation struct {
	ID         string
	HTTPStatus int
	// Status is the REST response status: success, application error,
	// action developer error, whisk internal error.
	Status     string
	DurationMs float64
	InitMs     float64
	WaitMs     float64
	// TimedOut is the activation's timeout annotation.
	TimedOut bool
	// Error is result.error when the activation failed.
	Error string
}

// ErrUnavailable wraps failures of the OpenWhisk API itself (network,
// 429, 5xx without an activation): the caller may retry.
var ErrUnavailable = errors.New("probe: OpenWhisk API unavailable")

// ErrThrottled is a 429: the namespace's throttle refused the invocation
// (OpenWhisk's "Too many requests in the last minute" or "Too many
// concurrent requests in flight"). A *ThrottledError carries it, with
// ErrUnavailable.
var ErrThrottled = errors.New("probe: throttled")

// ThrottledError is a 429 answer and the Retry-After it gave, if any.
type ThrottledError struct {
	// RetryAfter is the controller's Retry-After when HasRetryAfter
	// (stock OpenWhisk sends none).
	RetryAfter    time.Duration
	HasRetryAfter bool
	Msg           string
}

func (e *ThrottledError) Error() string { return "HTTP 429: " + e.Msg }

// Unwrap puts ErrThrottled and ErrUnavailable in the chain.
func (e *ThrottledError) Unwrap() []error { return []error{ErrThrottled, ErrUnavailable} }

// NotCompletedError says an activation was accepted (a blocking invoke
// answered 202: the controller's wait ran out) and not recorded as
// complete before the caller's deadline.
type NotCompletedError struct {
	ActivationID string
	Action       string // ns/action
	Err          error  // the deadline's error
}

func (e *NotCompletedError) Error() string {
	return fmt.Sprintf("activation %s of %s did not complete in time (the controller answered 202 and the activation was polled until the deadline)", e.ActivationID, e.Action)
}

func (e *NotCompletedError) Unwrap() error { return e.Err }

// ClientOptions configure a Client.
type ClientOptions struct {
	// APIHost is the controller (or gateway) base URL, "http://host:port".
	APIHost string
	Keys    KeySource
	// HTTPClient carries the timeouts; by default a client with a 75 s
	// timeout (a blocking invoke waits up to 60 s).
	HTTPClient *http.Client
	// PollEvery paces the polling of an activation that outlived the
	// blocking wait (default 500 ms).
	PollEvery time.Duration
}

// Client invokes actions through OpenWhisk's REST API, built on
// openwhisk-client-go's request construction (URL, auth header, user
// agent) with a context attached and the response read here (client-go's
// own Do loses the activation of a failed run, and its verbose mode would
// print the auth header: it is never turned on). It is safe for
// concurrent use.
type Client struct {
	o ClientOptions

	mu      sync.Mutex
	clients map[string]*whisk.Client // by namespace
}

// NewClient returns a Client.
func NewClient(o ClientOptions) *Client {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 75 * time.Second}
	}
	if o.PollEvery <= 0 {
		o.PollEvery = 500 * time.Millisecond
	}
	return &Client{o: o, clients: map[string]*whisk.Client{}}
}

func (c *Client) client(ctx context.Context, ns string) (*whisk.Client, error) {
	c.mu.Lock()
	wc := c.clients[ns]
	c.mu.Unlock()
	if wc != nil {
		return wc, nil
	}
	key, err := c.o.Keys.KeyFor(ctx, ns)
	if err != nil {
		return nil, fmt.Errorf("probe: key of namespace %s: %w", ns, err)
	}
	wc, err = whisk.NewClient(c.o.HTTPClient, &whisk.Config{Host: strings.TrimSuffix(c.o.APIHost, "/"), AuthToken: key,
		Namespace: ns, Version: "v1"})
	if err != nil {
		return nil, fmt.Errorf("probe: OpenWhisk client for %s: %s", c.o.APIHost, strings.TrimSpace(err.Error()))
	}
	c.mu.Lock()
	c.clients[ns] = wc
	c.mu.Unlock()
	return wc, nil
}

// escapePath escapes each element of an action path.
func escapePath(action string) string {
	parts := strings.Split(action, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// Invoke runs ns/action blocking with payload. An activation that ran,
// whatever its outcome, is returned without error; an error means no
// activation came back (ErrUnavailable for the platform's failures, a
// *ThrottledError for a 429; 401, 403 and 404 are final). A 202 (the
// controller's blocking wait ran out) is followed by polling the
// activation until ctx ends: bound ctx with a deadline, past which the
// error is a *NotCompletedError naming the activation.
func (c *Client) Invoke(ctx context.Context, ns, action string, payload json.RawMessage) (Activation, error) {
	wc, err := c.client(ctx, ns)
	if err != nil {
		return Activation{}, err
	}
	if len(payload) == 0 {
		payload = json.RawMessage(`{}`)
	}
	route := "actions/" + escapePath(action) + "?blocking=true&result=false"
	req, err := wc.NewRequest(http.MethodPost, route, payload, true)
	if err != nil {
		return Activation{}, fmt.Errorf("probe: build request for %s/%s: %w", ns, action, errors.New(strings.TrimSpace(err.Error())))
	}
	status, hdr, body, err := c.do(req.WithContext(ctx))
	if err != nil {
		return Activation{}, fmt.Errorf("probe: invoke %s/%s: %w", ns, action, err)
	}
	switch {
	case status == http.StatusAccepted:
		// The blocking wait ran out: the activation is still running.
		var id struct {
			ActivationID string `json:"activationId"`
		}
		_ = json.Unmarshal(body, &id)
		if id.ActivationID == "" {
			return Activation{}, fmt.Errorf("probe: invoke %s/%s: 202 without an activation id: %w", ns, action, ErrUnavailable)
		}
		return c.poll(ctx, wc, ns, action, id.ActivationID)
	case status == http.StatusOK || status == http.StatusBadGateway:
		return parseActivation(status, body)
	case status == http.StatusTooManyRequests:
		ra, ok := retryAfter(hdr.Get("Retry-After"))
		return Activation{}, fmt.Errorf("probe: invoke %s/%s: %w", ns, action, &ThrottledError{RetryAfter: ra, HasRetryAfter: ok, Msg: errorText(body)})
	case status >= 500:
		return Activation{}, fmt.Errorf("probe: invoke %s/%s: HTTP %d: %s: %w", ns, action, status, errorText(body), ErrUnavailable)
	default:
		return Activation{}, fmt.Errorf("probe: invoke %s/%s: HTTP %d: %s", ns, action, status, errorText(body))
	}
}

// poll reads activation id until it is recorded, for as long as ctx
// allows (the caller bounds it: the action's time limit plus a margin).
// A 404 means not recorded yet, and network errors and 5xx may pass: both
// are polled again; 401 and 403 (the key was revoked meanwhile) end it at
// once. At ctx's deadline the error is a *NotCompletedError naming the
// activation.
func (c *Client) poll(ctx context.Context, wc *whisk.Client, ns, action, id string) (Activation, error) {
	t := time.NewTicker(c.o.PollEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return Activation{}, fmt.Errorf("probe: %w", &NotCompletedError{ActivationID: id, Action: ns + "/" + action, Err: ctx.Err()})
			}
			return Activation{}, fmt.Errorf("probe: wait for activation %s of %s/%s: %w", id, ns, action, ctx.Err())
		case <-t.C:
		}
		req, err := wc.NewRequest(http.MethodGet, "activations/"+url.PathEscape(id), nil, true)
		if err != nil {
			return Activation{}, fmt.Errorf("probe: build request: %s", strings.TrimSpace(err.Error()))
		}
		status, _, body, err := c.do(req.WithContext(ctx))
		switch {
		case err != nil, status == http.StatusNotFound, status == http.StatusTooManyRequests, status >= 500:
			continue
		case status == http.StatusOK:
			return parseActivation(status, body)
		default:
			return Activation{}, fmt.Errorf("probe: read activation %s of %s/%s: HTTP %d: %s", id, ns, action, status, errorText(body))
		}
	}
}

// retryAfter reads a Retry-After header: seconds or an HTTP date (false
// when absent or unreadable).
func retryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

func (c *Client) do(req *http.Request) (int, http.Header, []byte, error) {
	resp, err := c.o.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is harmless, but keep errors short
		}
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return 0, nil, nil, ctxErr
		}
		return 0, nil, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: read response: %w", ErrUnavailable, err)
	}
	return resp.StatusCode, resp.Header, body, nil
}

func errorText(body []byte) string {
	var e entity.Error
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return truncate(e.Error, 200)
	}
	return truncate(string(bytes.TrimSpace(body)), 200)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// parseActivation reads a REST activation (a blocking invoke's 200 or 502
// body, or GET /activations/{id}).
func parseActivation(status int, body []byte) (Activation, error) {
	var v entity.ActivationView
	if err := json.Unmarshal(body, &v); err != nil || v.ActivationID == "" {
		return Activation{}, fmt.Errorf("probe: HTTP %d without an activation: %s: %w", status, errorText(body), ErrUnavailable)
	}
	a := Activation{ID: v.ActivationID, HTTPStatus: status, Status: v.Response.Status}
	if v.Duration != nil {
		a.DurationMs = float64(*v.Duration)
	} else if v.End >= v.Start {
		a.DurationMs = float64(v.End - v.Start)
	}
	a.InitMs = number(v.Annotations, "initTime")
	a.WaitMs = number(v.Annotations, "waitTime")
	a.TimedOut = v.Annotations.Bool("timeout")
	if !v.Response.Success {
		var r struct {
			Error json.RawMessage `json:"error"`
		}
		_ = json.Unmarshal(v.Response.Result, &r)
		var s string
		if json.Unmarshal(r.Error, &s) != nil {
			s = string(r.Error)
		}
		a.Error = truncate(s, 300)
	}
	return a, nil
}

// number reads a numeric annotation, 0 when absent or not a number.
func number(kv entity.KeyValues, key string) float64 {
	f, _ := entity.Value[float64](kv, key)
	return f
}
