package openwhisk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
)

// KeySource gives a namespace's API key ("uuid:key"); *subjects.Source,
// which reads OpenWhisk's subjects database, is the one fnmgr uses. An
// implementation that also has Forget(ns) is told when the controller
// refused a key (rotated).
type KeySource interface {
	KeyFor(ctx context.Context, ns string) (string, error)
}

// ControllerCode reads the code of an action that OpenWhisk keeps outside
// CouchDB (an S3 or Azure Blob AttachmentStore) through a controller's
// REST API, as the action's namespace: GET /api/v1/namespaces/{ns}/actions/
// [{pkg}/]{name}?code=true, which the controller answers from its
// attachment store (core/controller/.../controller/Actions.scala, fetch
// with code=true). It implements whiskdb.ExternalCode.
type ControllerCode struct {
	APIHost string
	Keys    KeySource
	// HTTP is the client (one with a 30 s timeout when nil).
	HTTP *http.Client
}

var _ whiskdb.ExternalCode = (*ControllerCode)(nil)

// maxCode bounds the controller's answer: OpenWhisk's largest action code
// is 48 MiB (whisk.config exec size limit), base64 adds a third.
const maxCode = 72 << 20

// ExternalCode implements whiskdb.ExternalCode. It never puts the key in
// an error.
func (c *ControllerCode) ExternalCode(ctx context.Context, a entity.Action) ([]byte, error) {
	root, pkg, _ := strings.Cut(a.Namespace, "/")
	key, err := c.Keys.KeyFor(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("openwhisk: read the code of %s: %w", a.FQN(), err)
	}
	uuid, secret, _ := strings.Cut(key, ":")
	name := url.PathEscape(a.Name)
	if pkg != "" {
		name = url.PathEscape(pkg) + "/" + name
	}
	u := strings.TrimSuffix(c.APIHost, "/") + "/api/v1/namespaces/" + url.PathEscape(root) + "/actions/" + name + "?code=true"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("openwhisk: read the code of %s: %w", a.FQN(), err)
	}
	req.SetBasicAuth(uuid, secret)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("openwhisk: read the code of %s from the controller: %w", a.FQN(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCode))
	if err != nil {
		return nil, fmt.Errorf("openwhisk: read the code of %s from the controller: %w", a.FQN(), err)
	}
	if resp.StatusCode != http.StatusOK {
		var e entity.Error
		_ = json.Unmarshal(body, &e)
		return nil, fmt.Errorf("openwhisk: read the code of %s from the controller: %s: %s", a.FQN(), resp.Status, truncate(e.Error, 300))
	}
	var v entity.ActionView
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("openwhisk: read the code of %s from the controller: %w", a.FQN(), err)
	}
	if v.Exec.Code == nil || v.Exec.Code.Inline == nil {
		return nil, fmt.Errorf("openwhisk: read the code of %s from the controller: the answer holds no code", a.FQN())
	}
	b, _, err := entity.StoredCode(*v.Exec.Code.Inline, v.Exec.Binary)
	if err != nil {
		return nil, fmt.Errorf("openwhisk: read the code of %s from the controller: %w", a.FQN(), err)
	}
	return b, nil
}
