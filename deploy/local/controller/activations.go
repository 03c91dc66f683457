package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// getActivation reads activation id of namespace ns.
func (c *Controller) getActivation(ctx context.Context, ns, id string) (entity.Activation, error) {
	var a entity.Activation
	raw, err := getRaw(ctx, c.store.activations, ns+"/"+id)
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return a, fmt.Errorf("controller: decode activation %s: %w", id, err)
	}
	return a, nil
}

// storeActivation writes an activation record the controller owns
// (sequences, trigger fires).
func (c *Controller) storeActivation(ctx context.Context, a entity.Activation) error {
	a.ID = a.Namespace + "/" + a.ActivationID
	a.EntityType = entity.TypeActivation
	a.Updated = time.Now().UnixMilli()
	if a.Logs == nil {
		a.Logs = []string{}
	}
	if a.Annotations == nil {
		a.Annotations = entity.KeyValues{}
	}
	_, err := putDoc(ctx, c.store.activations, a.ID, a)
	return err
}

// activationsAPI routes /namespaces/{ns}/activations[/{id}[/result|/logs]].
func (c *Controller) activationsAPI(w http.ResponseWriter, r *http.Request, id *identity, ns string, sub []string) error {
	if r.Method != http.MethodGet {
		return errMethod(http.MethodGet)
	}
	sub = trimTrailing(sub)
	if len(sub) == 0 {
		return c.listActivations(w, r, ns)
	}
	if err := validActivationID(sub[0]); err != nil {
		return err
	}
	a, err := c.getActivation(r.Context(), ns, sub[0])
	if err != nil {
		return err
	}
	switch {
	case len(sub) == 1:
		writeJSON(w, http.StatusOK, a.View())
	case len(sub) == 2 && sub[1] == "result":
		writeJSON(w, http.StatusOK, a.Response.REST())
	case len(sub) == 2 && sub[1] == "logs":
		logs := a.Logs
		if logs == nil {
			logs = []string{}
		}
		writeJSON(w, http.StatusOK, entity.Logs{Logs: logs})
	default:
		return errStatus(http.StatusNotFound, msgNoRouteFound)
	}
	return nil
}

// epochParam parses since/upto (epoch milliseconds).
func epochParam(v string) (*int64, error) {
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return nil, badRequest("Parameter is not a valid value for epoch seconds: " + v)
	}
	return &n, nil
}

func trimTrailing(s []string) []string {
	for len(s) > 0 && s[len(s)-1] == "" {
		s = s[:len(s)-1]
	}
	return s
}
