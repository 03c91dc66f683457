package client

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/fnmgr/fnmgr/plugin/api"
)

// The admin API's bodies, as package api defines them for the server and
// its clients.
type (
	Function      = api.Function
	Revision      = api.Revision
	Version       = api.Version
	Alias         = api.NamedAlias
	History       = api.HistoryEntry
	Route         = api.Route
	Config        = api.Config
	UpdateRequest = api.UpdateRequest // the body of POST …/update
	ConfigRequest = api.ConfigRequest // the body of PUT …/config
)

// BasicAuth is the Authorization value of an OpenWhisk key "uuid:key".
func BasicAuth(key string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(key))
}

// BearerAuth is the Authorization value of the admin token.
func BearerAuth(token string) string { return "Bearer " + token }

// ListOptions filter Functions.
type ListOptions struct {
	State string // LATEST, PUBLISHED, BLOCKED, UPDATING, RETIRED; "" for all
	Limit int    // 0: the server's default
	Skip  int
}

// Functions lists the namespace's functions.
func (c *Client) Functions(ctx context.Context, o ListOptions) ([]Function, error) {
	q := url.Values{}
	if o.State != "" {
		q.Set("state", o.State)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Skip > 0 {
		q.Set("skip", strconv.Itoa(o.Skip))
	}
	var out []Function
	_, err := c.do(ctx, http.MethodGet, c.functionPath(""), q, nil, &out)
	return out, err
}

// Function gets one function.
func (c *Client) Function(ctx context.Context, name string) (Function, error) {
	var out Function
	_, err := c.do(ctx, http.MethodGet, c.functionPath(name), nil, nil, &out)
	return out, err
}

// Revisions lists a function's observed revisions, newest first.
func (c *Client) Revisions(ctx context.Context, name string) ([]Revision, error) {
	var out []Revision
	_, err := c.do(ctx, http.MethodGet, c.functionPath(name, "revisions"), nil, nil, &out)
	return out, err
}

func codeQuery(code bool) url.Values {
	if code {
		return url.Values{"code": {"true"}}
	}
	return nil
}

// Versions lists the published versions; code includes their code.
func (c *Client) Versions(ctx context.Context, name string, code bool) ([]Version, error) {
	var out []Version
	_, err := c.do(ctx, http.MethodGet, c.functionPath(name, "versions"), codeQuery(code), nil, &out)
	return out, err
}

// Version gets version n.
func (c *Client) Version(ctx context.Context, name string, n int, code bool) (Version, error) {
	var out Version
	_, err := c.do(ctx, http.MethodGet, c.functionPath(name, "versions", strconv.Itoa(n)), codeQuery(code), nil, &out)
	return out, err
}

// RetireVersion retires version n.
func (c *Client) RetireVersion(ctx context.Context, name string, n int) error {
	_, err := c.do(ctx, http.MethodDelete, c.functionPath(name, "versions", strconv.Itoa(n)), nil, nil, nil)
	return err
}

// Published is the answer of Publish and Rollback.
type Published struct {
	Version int    `json:"version"`
	Digest  string `json:"digest"`
	// Created is false when the head already was the newest version (the
	// API's status, 201 or 200).
	Created bool `json:"created"`
}

// Publish publishes the head as a new version.
func (c *Client) Publish(ctx context.Context, name, description string) (Published, error) {
	var out api.PublishedVersion
	status, err := c.do(ctx, http.MethodPost, c.functionPath(name, "versions"), nil,
		api.PublishRequest{Description: description}, &out)
	return Published{Version: out.Version, Digest: out.Digest, Created: status == http.StatusCreated}, err
}

// Rollback makes version n the head.
func (c *Client) Rollback(ctx context.Context, name string, n int) (Published, error) {
	var out api.PublishedVersion
	_, err := c.do(ctx, http.MethodPost, c.functionPath(name, "rollback"), nil, api.RollbackRequest{Version: n}, &out)
	return Published{Version: out.Version, Digest: out.Digest}, err
}

// SetAlias creates or moves an alias: one route of weight 100 points it at
// one version.
func (c *Client) SetAlias(ctx context.Context, name, alias string, routing []Route) (Alias, error) {
	var out Alias
	_, err := c.do(ctx, http.MethodPut, c.functionPath(name, "aliases", alias), nil,
		api.AliasRequest{Routing: routing}, &out)
	return out, err
}

// Alias gets an alias.
func (c *Client) Alias(ctx context.Context, name, alias string) (Alias, error) {
	var out Alias
	_, err := c.do(ctx, http.MethodGet, c.functionPath(name, "aliases", alias), nil, nil, &out)
	return out, err
}

// DeleteAlias removes an alias.
func (c *Client) DeleteAlias(ctx context.Context, name, alias string) error {
	_, err := c.do(ctx, http.MethodDelete, c.functionPath(name, "aliases", alias), nil, nil, nil)
	return err
}

// Block blocks the function.
func (c *Client) Block(ctx context.Context, name, reason string) (Function, error) {
	var out Function
	_, err := c.do(ctx, http.MethodPost, c.functionPath(name, "block"), nil, api.BlockRequest{Reason: reason}, &out)
	return out, err
}

// Unblock unblocks the function.
func (c *Client) Unblock(ctx context.Context, name string) (Function, error) {
	var out Function
	_, err := c.do(ctx, http.MethodPost, c.functionPath(name, "unblock"), nil, struct{}{}, &out)
	return out, err
}

// Update applies an update under UPDATING.
func (c *Client) Update(ctx context.Context, name string, req UpdateRequest) (Function, error) {
	var out Function
	_, err := c.do(ctx, http.MethodPost, c.functionPath(name, "update"), nil, req, &out)
	return out, err
}

// Retire retires the function; grace nil takes the server's default.
func (c *Client) Retire(ctx context.Context, name, reason string, grace *time.Duration) (Function, error) {
	body := api.RetireRequest{Reason: reason}
	if grace != nil {
		g := int64(grace.Seconds())
		body.GraceSeconds = &g
	}
	var out Function
	_, err := c.do(ctx, http.MethodPost, c.functionPath(name, "retire"), nil, body, &out)
	return out, err
}

// History lists the function's audited transitions.
func (c *Client) History(ctx context.Context, name string) ([]History, error) {
	var out []History
	_, err := c.do(ctx, http.MethodGet, c.functionPath(name, "history"), nil, nil, &out)
	return out, err
}

// SetConfig sets run-time settings and returns the function's settings.
func (c *Client) SetConfig(ctx context.Context, name string, req ConfigRequest) (Config, error) {
	var out Config
	_, err := c.do(ctx, http.MethodPut, c.functionPath(name, "config"), nil, req, &out)
	return out, err
}
