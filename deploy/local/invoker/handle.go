package invoker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/deploy/local/actionrt"
	"github.com/fnmgr/fnmgr/kafka/message"
)

// errAborted means an activation was cut short by Stop: it is neither stored
// nor acknowledged, and its message is not committed.
var errAborted = errors.New("invoker: activation aborted by shutdown")

// annProvideAPIKey is the action annotation that asks for __OW_API_KEY.
const annProvideAPIKey = "provide-api-key"

// handle takes one activation message to its end: the activation is stored,
// its user event sent and the controller acknowledged, whatever went wrong on
// the way, unless ctx ends first (errAborted).
func (i *Invoker) handle(ctx context.Context, msg *message.Activation) error {
	docid := msg.Action.Path + "/" + msg.Action.Name
	r, err := i.actions.get(ctx, docid, msg.Revision)
	if err != nil {
		if ctx.Err() != nil {
			return errAborted
		}
		resp := fetchErrorResponse(err)
		level := i.log.Warn
		if resp.StatusCode == entity.StatusInternalError {
			level = i.log.Error
		}
		level("action unavailable", "activationId", msg.ActivationID, "action", docid, "err", err)
		i.complete(ctx, msg, fallbackActivation(msg, resp, i.now()))
		return nil
	}
	a := &r.action
	if !i.offers(a.Exec.Kind) {
		// Exec's reader refuses a kind the runtimes manifest lacks:
		// DocumentUnreadable, a whisk error in InvokerReactive.
		i.log.Error("action names a kind this deployment does not offer", "activationId", msg.ActivationID, "action", docid, "kind", a.Exec.Kind)
		i.complete(ctx, msg, fallbackActivation(msg, errorResponse(entity.StatusInternalError, msgActionMismatch), i.now()))
		return nil
	}
	// InvokerReactive: "action that exceed the limit cannot be executed".
	// (Older controllers, such as the image Helm 108f327 pins, refuse such a
	// document when reading it instead; we follow master, as SPEC section 5
	// and issue #12 ask.)
	if err := i.opts.Limits.WithDefaults().For(namespaceLimits(msg.User.Limits)).Check(a.Limits); err != nil {
		i.log.Warn("action outside the deployment's limits", "activationId", msg.ActivationID, "action", docid, "err", err)
		i.complete(ctx, msg, fallbackActivation(msg, errorResponse(entity.StatusApplicationError, err.Error()), i.now()))
		return nil
	}
	switch a.Exec.Kind {
	case entity.KindSequence:
		i.log.Error("non-executable action reached the invoker", "activationId", msg.ActivationID, "action", docid)
		i.complete(ctx, msg, fallbackActivation(msg, errorResponse(entity.StatusInternalError, msgActionFetch), i.now()))
		return nil
	case entity.KindBlackbox:
		text := fmt.Sprintf("Failed to pull container image '%s': this local stack has no Docker, so it cannot run blackbox (Docker) actions; use a nodejs or python kind.", a.Exec.Image)
		i.complete(ctx, msg, i.instant(msg, a, errorResponse(entity.StatusDeveloperError, text)))
		return nil
	}

	spec, params := i.runSpec(msg, r, i.now())
	res, err := i.pool.Run(ctx, spec, params)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, actionrt.ErrClosed) {
			return errAborted
		}
		i.complete(ctx, msg, i.instant(msg, a, i.runErrorResponse(msg, a, err)))
		return nil
	}
	o := outcome{
		start: res.Start, end: res.End,
		cold: res.InitTime > 0, initTime: res.InitTime, waitTime: res.WaitTime,
		timedOut: res.TimedOut,
		response: normalizeResponse(res.StatusCode, res.Result),
		logs:     res.Logs,
	}
	if a.Limits.Logs == 0 {
		o.logs = nil // a log limit of 0 turns log collection off
	}
	i.complete(ctx, msg, buildActivation(msg, a, o, i.now()))
	return nil
}

// offers reports whether the deployment offers kind (sequences and
// blackbox images are not runtimes).
func (i *Invoker) offers(kind string) bool {
	if i.opts.Kinds == nil || kind == entity.KindSequence || kind == entity.KindBlackbox {
		return true
	}
	return slices.Contains(i.opts.Kinds, kind)
}

// runErrorResponse turns an internal failure of the pool into a response.
func (i *Invoker) runErrorResponse(msg *message.Activation, a *entity.Action, err error) entity.ActivationResponse {
	switch {
	case errors.Is(err, actionrt.ErrUnsupportedKind):
		// An offered kind this machine has no runtime for (java, go, …)
		// is an OpenWhisk-provided image whose container does not start:
		// DockerContainer.create fails with
		// WhiskContainerStartupError(resourceProvisionError), which
		// ContainerProxy reports as a whisk error.
		i.log.Warn("no local runtime for the kind; failing as a container that cannot start", "activationId", msg.ActivationID, "kind", a.Exec.Kind)
		return errorResponse(entity.StatusInternalError, msgResourceProvision)
	case errors.Is(err, actionrt.ErrTooLarge):
		return errorResponse(entity.StatusInternalError, fmt.Sprintf(
			"The action's memory limit of %d MB exceeds this invoker's user memory of %d MB.", a.Limits.Memory, i.opts.UserMemoryMB))
	default:
		i.log.Error("run failed", "activationId", msg.ActivationID, "action", a.FQN(), "err", err)
		return errorResponse(entity.StatusInternalError, msgAbnormalRun)
	}
}

// instant is the activation of a run that never started: no time, no logs.
func (i *Invoker) instant(msg *message.Activation, a *entity.Action, resp entity.ActivationResponse) entity.Activation {
	now := i.now()
	return buildActivation(msg, a, outcome{start: now, end: now, response: resp}, now)
}

// runSpec is what the pool needs to run msg on action r, and the parameters
// of the run (msg.content without the init arguments).
func (i *Invoker) runSpec(msg *message.Activation, r *runnable, now time.Time) (actionrt.Action, json.RawMessage) {
	a := &r.action
	timeout := time.Duration(a.Limits.Timeout) * time.Millisecond
	if timeout <= 0 {
		timeout = time.Duration(entity.DefaultLimits().Timeout) * time.Millisecond
	}
	version := msg.Action.Version
	if version == "" {
		version = a.Version
	}
	env := map[string]string{
		"__OW_NAMESPACE":      msg.User.Namespace.Name,
		"__OW_ACTION_NAME":    "/" + msg.Action.Path + "/" + msg.Action.Name,
		"__OW_ACTION_VERSION": version,
		"__OW_ACTIVATION_ID":  msg.ActivationID,
		"__OW_TRANSACTION_ID": msg.TransID.ID(),
		"__OW_DEADLINE":       strconv.FormatInt(now.Add(timeout).UnixMilli(), 10),
	}
	if i.opts.APIHost != "" {
		env["__OW_API_HOST"] = i.opts.APIHost
	}
	if provideAPIKey(a.Annotations) {
		env["__OW_API_KEY"] = msg.User.AuthKey.APIKey
	}
	params := partitionArguments(msg.Content, msg.InitArgs, env)
	spec := actionrt.Action{
		Key:      a.ID + "@" + a.Rev + "/" + strconv.Itoa(a.Limits.Memory),
		Kind:     a.Exec.Kind,
		Code:     r.code,
		Binary:   a.Exec.Binary,
		Main:     a.Exec.Main,
		MemoryMB: a.Limits.Memory,
		Timeout:  timeout,
		Env:      env,
	}
	if a.Limits.Logs > 0 {
		spec.LogLimitBytes = a.Limits.Logs << 20
	}
	return spec, params
}

// provideAPIKey is annotations.isTruthy("provide-api-key", valueForNonExistent
// = true): OpenWhisk gives the key to actions without the annotation, for
// backward compatibility, and to those where it is truthy.
func provideAPIKey(anns entity.KeyValues) bool {
	raw, ok := anns.Get(annProvideAPIKey)
	if !ok {
		return true
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	switch t := v.(type) {
	case bool:
		return t
	case float64:
		return t != 0
	case string:
		return t != ""
	case nil:
		return false
	default:
		return true
	}
}

// partitionArguments is ContainerProxy.partitionArguments: the parameters
// named in initArgs go to the environment (strings as they are, other values
// as JSON), the rest are the run's parameters.
func partitionArguments(content json.RawMessage, initArgs []string, env map[string]string) json.RawMessage {
	if len(bytes.TrimSpace(content)) == 0 || bytes.Equal(bytes.TrimSpace(content), []byte("null")) {
		return json.RawMessage(`{}`)
	}
	if len(initArgs) == 0 {
		return content
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(content, &fields) != nil {
		return content
	}
	for _, k := range initArgs {
		raw, ok := fields[k]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			env[k] = s
		} else {
			env[k] = string(raw)
		}
		delete(fields, k)
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return content
	}
	return b
}
