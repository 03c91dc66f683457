package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/kafka/message"
)

// activationIDHeader is set on every invoke response.
const activationIDHeader = "x-openwhisk-activation-id"

// invocation is one request to run an action.
type invocation struct {
	user    *identity
	action  resolvedAction
	payload entity.KeyValues // the caller's arguments
	// wait > 0 makes the invocation blocking, bounded by wait.
	wait  time.Duration
	cause string
	tid   string
	// received is when the request arrived (a sequence's waitTime).
	received time.Time
}

// outcome is the answer of an invocation: always the id, and the activation
// when a blocking invocation completed in time.
type outcome struct {
	id         string
	activation *entity.Activation
}

// invokeHandler answers POST /namespaces/{ns}/actions/[{pkg}/]{name}.
func (c *Controller) invokeHandler(w http.ResponseWriter, r *http.Request, id *identity, f fqn) error {
	received := time.Now()
	ctx := r.Context()
	// Entitlement checks the throttles before the action is read.
	if err := c.checkInvokeThrottles(ctx, id); err != nil {
		return err
	}
	blocking, err := queryBool(r, "blocking", false)
	if err != nil {
		return err
	}
	resultOnly, err := queryBool(r, "result", false)
	if err != nil {
		return err
	}
	wait, err := c.parseTimeout(r)
	if err != nil {
		return err
	}
	body, err := readBody(r, c.opts.Limits.MaxPayloadBytes, "Request")
	if err != nil {
		return err
	}
	payload, err := objectToKV(body)
	if err != nil {
		return err
	}
	ra, err := c.resolveAction(ctx, f)
	if err != nil {
		return err
	}
	if err := checkFinal(ra.Action, payload); err != nil {
		return err
	}
	inv := invocation{user: id, action: ra, payload: payload, tid: tidFrom(ctx), received: received}
	if blocking {
		inv.wait = wait
	}
	out, err := c.invoke(ctx, inv)
	if err != nil {
		return err
	}
	w.Header().Set(activationIDHeader, out.id)
	if out.activation == nil {
		writeJSON(w, http.StatusAccepted, entity.ActivationID{ActivationID: out.id})
		return nil
	}
	a := out.activation
	status := http.StatusOK
	switch a.Response.StatusCode {
	case entity.StatusSuccess:
	case entity.StatusApplicationError, entity.StatusDeveloperError:
		status = http.StatusBadGateway
	default:
		status = http.StatusInternalServerError
	}
	if resultOnly {
		writeRaw(w, status, resultJSON(a.Response))
		return nil
	}
	writeJSON(w, status, a.View())
	return nil
}

// parseTimeout reads ?timeout= (ms, 1..max wait) or returns the max wait.
func (c *Controller) parseTimeout(r *http.Request) (time.Duration, error) {
	maxWait := c.opts.Limits.MaxBlockingWait
	v, ok := r.URL.Query()["timeout"]
	if !ok || len(v) == 0 {
		return maxWait, nil
	}
	ms, err := strconv.ParseInt(v[0], 10, 32)
	if err != nil || ms <= 0 || time.Duration(ms)*time.Millisecond > maxWait {
		return 0, badRequest(msgMalformedQuery("timeout", msgInvalidTimeout(maxWait.Milliseconds())))
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// resultJSON is activation.resultAsJson: the result, or {}.
func resultJSON(r entity.ActivationResponse) []byte {
	if len(bytes.TrimSpace(r.Result)) == 0 {
		return []byte("{}")
	}
	return r.Result
}

// checkFinal rejects a payload that overrides a final parameter.
func checkFinal(a entity.Action, payload entity.KeyValues) error {
	imm := immutableParameters(a)
	for _, p := range payload {
		if imm[p.Key] {
			return badRequest(msgParamsNotAllowed)
		}
	}
	return nil
}

// invoke runs a sequence inside the controller, or sends an atomic action to
// an invoker.
func (c *Controller) invoke(ctx context.Context, inv invocation) (outcome, error) {
	if inv.user.blocked() {
		return outcome{}, errStatus(http.StatusTooManyRequests, "Too many requests in the last minute (count: 1, allowed: 0).")
	}
	if inv.action.Exec.Kind == entity.KindSequence {
		return c.invokeSequence(ctx, inv)
	}
	return c.invokeAtomic(ctx, inv)
}

// invokeAtomic builds the activation message, produces it to the action's
// home invoker and, when blocking, waits for the result.
func (c *Controller) invokeAtomic(ctx context.Context, inv invocation) (outcome, error) {
	a := inv.action
	aid := newActivationID()
	msg := message.Activation{
		TransID:             message.NewTransID(inv.tid, time.Now()),
		Action:              entity.FullyQualifiedName{Path: a.Namespace, Name: a.Name, Version: a.Version, Binding: a.Binding},
		Revision:            a.Rev,
		User:                inv.user.message(),
		ActivationID:        aid,
		RootControllerIndex: message.ControllerInstance{AsString: c.opts.ID, InstanceType: "controller"},
		Blocking:            inv.wait > 0,
		Content:             a.Parameters.Merge(inv.payload).Object(),
		InitArgs:            initParameters(a.Parameters),
		LockedArgs:          map[string]string{},
		Cause:               inv.cause,
	}
	var ch <-chan ackResult
	if inv.wait > 0 {
		ch = c.waiters.add(aid)
	}
	expire := time.Duration(a.Limits.Timeout)*time.Millisecond + 5*time.Minute
	n := c.inflight.add(aid, inv.user.Namespace, expire)
	if err := c.produce(ctx, c.topic(message.InvokerTopic(c.homeInvoker(inv.user.Namespace, a.FQN()))), msg); err != nil {
		c.waiters.remove(aid)
		c.inflight.done(aid)
		if errors.Is(err, errTooLarge) {
			return outcome{}, errStatus(http.StatusRequestEntityTooLarge, msgEntityTooBig("Request", int64(len(msg.Content)), c.opts.Limits.MaxPayloadBytes))
		}
		c.log.Error("activation not published", "activation", aid, "err", err)
		return outcome{}, errStatus(http.StatusServiceUnavailable, msgUnavailable)
	}
	c.emitConcurrency(ctx, inv.user, n)
	if inv.wait <= 0 {
		return outcome{id: aid}, nil
	}
	act, err := c.awaitActivation(ctx, ch, inv.user.Namespace, aid, inv.wait)
	switch {
	case errors.Is(err, errWaitTimeout):
		return outcome{id: aid}, nil
	case err != nil:
		return outcome{}, fmt.Errorf("controller: wait for %s: %w", aid, err)
	}
	return outcome{id: aid, activation: &act}, nil
}

// homeInvoker picks the invoker of an action by hashing the invoking
// namespace and the action's name, as the sharding balancer does.
func (c *Controller) homeInvoker(ns string, action fqn) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(ns + "\x00" + action.String()))
	return int(h.Sum32() % uint32(c.opts.Invokers))
}

// objectToKV parses a JSON object payload into ordered key/values; an
// absent body is an empty payload.
func objectToKV(body json.RawMessage) (entity.KeyValues, error) {
	kv := entity.KeyValues{}
	if len(bytes.TrimSpace(body)) == 0 || string(bytes.TrimSpace(body)) == "null" {
		return kv, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, badRequest(msgMalformedBody("Object expected in field 'payload'"))
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, badRequest(msgMalformedBody(err.Error()))
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, badRequest(msgMalformedBody(err.Error()))
		}
		kv = kv.Merge(entity.KeyValues{{Key: key, Value: v}})
	}
	return kv, nil
}
