package controller

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// invokeSequence runs a topmost sequence in the background and, when
// blocking, waits for it up to the invocation's wait
// (SequenceActions.invokeSequence).
func (c *Controller) invokeSequence(ctx context.Context, inv invocation) (outcome, error) {
	seqID := newActivationID()
	if inv.wait <= 0 {
		c.goBackground(func(ctx context.Context) { c.runSequence(ctx, inv, seqID, true, 0) })
		return outcome{id: seqID}, nil
	}
	done := make(chan entity.Activation, 1)
	c.goBackground(func(ctx context.Context) {
		act, _ := c.runSequence(ctx, inv, seqID, true, 0)
		done <- act
	})
	timer := time.NewTimer(inv.wait)
	defer timer.Stop()
	select {
	case act := <-done:
		return outcome{id: seqID, activation: &act}, nil
	case <-timer.C:
		return outcome{id: seqID}, nil
	case <-ctx.Done():
		return outcome{}, ctx.Err()
	}
}

// seqAccount is the running accounting of a sequence (SequenceAccounting).
type seqAccount struct {
	count     int // atomic actions run so far, since the topmost sequence began
	logs      []string
	duration  int64
	maxMemory *int
	response  entity.ActivationResponse
}

func errorResponse(code int, msg string) entity.ActivationResponse {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return entity.ActivationResponse{StatusCode: code, Result: b}
}

// record accounts for a component's activation and reports whether the
// sequence goes on: it stops at a result with an error field.
func (s *seqAccount) record(a entity.Activation) bool {
	s.logs = append(s.logs, a.ActivationID)
	if a.Duration != nil {
		s.duration += *a.Duration
	}
	if raw, ok := a.Annotations.Get("limits"); ok {
		var l struct {
			Memory *int `json:"memory"`
		}
		if json.Unmarshal(raw, &l) == nil && l.Memory != nil && (s.maxMemory == nil || *l.Memory > *s.maxMemory) {
			s.maxMemory = l.Memory
		}
	}
	s.response = a.Response
	var r map[string]json.RawMessage
	if json.Unmarshal(a.Response.Result, &r) == nil {
		_, hasError := r["error"]
		return !hasError
	}
	return true
}

// runSequence runs the components of inv.action one after the other, each
// a blocking activation caused by this sequence, then writes the sequence's
// activation record and emits its event. It returns the record and the
// atomic action count so far.
func (c *Controller) runSequence(ctx context.Context, inv invocation, seqID string, topmost bool, count int) (entity.Activation, int) {
	start := time.Now()
	seq := inv.action
	acc := seqAccount{count: count, logs: []string{},
		response: entity.ActivationResponse{StatusCode: entity.StatusSuccess, Result: inv.payload.Object()}}
	maxLen := c.opts.Limits.SequenceMaxLength
	for _, comp := range seq.Exec.Components {
		if acc.count >= maxLen {
			acc.response = errorResponse(entity.StatusApplicationError, msgSequenceTooLong)
			break
		}
		f, ok := parseFQN(comp, inv.user.Namespace)
		var ra resolvedAction
		var err error
		if ok {
			ra, err = c.resolveAction(ctx, f.resolveNS(inv.user.Namespace))
		}
		if !ok || isNotFound(err) {
			acc.response = errorResponse(entity.StatusApplicationError, msgSequenceNotFound)
			break
		}
		if err != nil {
			acc.response = errorResponse(entity.StatusInternalError, msgSequenceFailure)
			break
		}
		input, _ := objectToKV(acc.response.Result)
		next := invocation{user: inv.user, action: ra, payload: input, cause: seqID, tid: inv.tid}
		if ra.Exec.Kind == entity.KindSequence {
			var act entity.Activation
			act, acc.count = c.runSequence(ctx, next, newActivationID(), false, acc.count)
			if !acc.record(act) {
				break
			}
			continue
		}
		next.wait = time.Duration(ra.Limits.Timeout)*time.Millisecond + time.Minute
		out, err := c.invokeAtomic(ctx, next)
		acc.count++
		if err != nil {
			c.log.Warn("sequence component failed", "sequence", seqID, "err", err)
			acc.response = errorResponse(entity.StatusInternalError, msgSequenceFailure)
			break
		}
		if out.activation == nil {
			acc.logs = append(acc.logs, out.id)
			acc.response = errorResponse(entity.StatusInternalError, msgSequenceTimeout(out.id))
			break
		}
		if !acc.record(*out.activation) {
			break
		}
	}
	act := c.sequenceActivation(inv, seqID, topmost, start, acc)
	if err := c.storeActivation(ctx, act); err != nil && !errors.Is(err, context.Canceled) {
		c.log.Error("sequence activation not stored", "activation", seqID, "err", err)
	}
	c.emitActivation(ctx, inv.user, act)
	return act, acc.count
}

// sequenceActivation builds the record of a finished sequence
// (makeSequenceActivation): the last component's response, the component
// ids as logs, the summed duration and the largest memory limit.
func (c *Controller) sequenceActivation(inv invocation, seqID string, topmost bool, start time.Time, acc seqAccount) entity.Activation {
	seq := inv.action
	end := time.Now()
	dur := acc.duration
	ann := entity.KeyValues{}.With("topmost", topmost).
		With("path", seq.Namespace+"/"+seq.Name).
		With("kind", entity.KindSequence)
	if !topmost {
		ann = ann.With("causedBy", entity.KindSequence)
	}
	wait := int64(0)
	if !inv.received.IsZero() {
		wait = max(start.Sub(inv.received).Milliseconds(), 0)
	}
	ann = ann.With("waitTime", wait)
	if acc.maxMemory != nil {
		l := entity.Limits{Timeout: seq.Limits.Timeout, Memory: *acc.maxMemory, Logs: seq.Limits.Logs, Concurrency: c.opts.Limits.StdConcurrency}
		ann = ann.With("limits", l)
	}
	act := entity.Activation{Namespace: inv.user.Namespace, Name: seq.Name, Subject: inv.user.Subject, ActivationID: seqID,
		Start: start.UnixMilli(), End: end.UnixMilli(), Duration: &dur, Response: acc.response, Logs: acc.logs,
		Version: seq.Version, Annotations: ann}
	if !topmost {
		act.Cause = inv.cause
	}
	if acc.response.Size == nil && len(acc.response.Result) > 0 && acc.response.StatusCode == entity.StatusSuccess {
		n := len(acc.response.Result)
		act.Response.Size = &n
	}
	return act
}

// checkSequence validates a sequence's components before it is stored:
// length, existence and no cycle through the sequence itself
// (checkSequenceActionLimits).
func (c *Controller) checkSequence(ctx context.Context, self fqn, components []string) error {
	maxLen := c.opts.Limits.SequenceMaxLength
	if len(components) > maxLen {
		return badRequest(msgSequenceTooLong)
	}
	n, err := c.countAtomic(ctx, self, components, 0)
	if err != nil {
		return err
	}
	if n > maxLen {
		return badRequest(msgSequenceTooLong)
	}
	return nil
}

func (c *Controller) countAtomic(ctx context.Context, self fqn, components []string, depth int) (int, error) {
	maxLen := c.opts.Limits.SequenceMaxLength
	if len(components) > maxLen || depth > maxLen {
		return 0, badRequest(msgSequenceTooLong)
	}
	total := 0
	for _, comp := range components {
		f, ok := parseFQN(comp, self.Root())
		if !ok {
			return 0, badRequest(msgSequenceNotFound)
		}
		if f == self {
			return 0, badRequest(msgSequenceCyclic)
		}
		ra, err := c.resolveAction(ctx, f)
		switch {
		case isNotFound(err) || asAPIError(err) == errConformance:
			return 0, badRequest(msgSequenceNotFound)
		case err != nil:
			return 0, err
		case ra.FQN() == self:
			return 0, badRequest(msgSequenceCyclic)
		}
		if ra.Exec.Kind == entity.KindSequence {
			n, err := c.countAtomic(ctx, self, ra.Exec.Components, depth+1)
			if err != nil {
				return 0, err
			}
			total += n
		} else {
			total++
		}
		if total > maxLen {
			return 0, badRequest(msgSequenceTooLong)
		}
	}
	return total, nil
}
