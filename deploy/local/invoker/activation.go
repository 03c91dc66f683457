package invoker

import (
	"encoding/json"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/kafka/message"
)

// Activation annotation keys (WhiskActivation.*Annotation).
const (
	annPath     = "path"
	annWaitTime = "waitTime"
	annKind     = "kind"
	annTimeout  = "timeout"
	annLimits   = "limits"
	annInitTime = "initTime"
	annCausedBy = "causedBy"
	annBinding  = "binding"
)

// kindUnknown is Exec.UNKNOWN, the kind of a fallback activation whose
// action could not be read.
const kindUnknown = "unknown"

// MaxResultBytes is whisk.activation.payload.max (1 MB): a larger result is
// truncated into an application error.
const MaxResultBytes = 1 << 20

// OpenWhisk's messages (ErrorResponse.scala Messages) for the failures the
// invoker itself reports.
const (
	msgActionRemoved  = "Action could not be found or may have been deleted."
	msgActionMismatch = "Action version is not compatible and cannot be invoked."
	msgActionFetch    = "Action could not be fetched."
	msgAbnormalRun    = "The action did not produce a valid response and exited unexpectedly."
	// msgResourceProvision is Messages.resourceProvisionError.
	msgResourceProvision = "Failed to provision resources to run the action."
)

// outcome is what running an action produced, in invoker terms.
type outcome struct {
	start, end time.Time // of init+run on a cold start, of the run when warm
	cold       bool
	initTime   time.Duration
	waitTime   time.Duration // the pool's own wait, used when the message has no start time
	timedOut   bool
	response   entity.ActivationResponse
	logs       []string
}

// buildActivation is ContainerProxy.constructWhiskActivation: the activation
// of msg's run of action a. Its annotations come in the order of
// OpenWhisk's documents: path, waitTime, kind, timeout, limits, initTime (cold
// start only), causedBy (inside a sequence), binding (through a binding).
func buildActivation(msg *message.Activation, a *entity.Action, o outcome, now time.Time) entity.Activation {
	start, end := o.start.UnixMilli(), o.end.UnixMilli()
	if end < start {
		end = start
	}
	duration := end - start
	wait := o.waitTime.Milliseconds()
	if ts, ok := transStart(msg.TransID); ok && !ts.After(o.start) {
		// OpenWhisk measures from the transaction's start (the controller's
		// receipt of the request) to the start of the init or run.
		wait = o.start.Sub(ts).Milliseconds()
	}
	anns := entity.KeyValues{}.
		With(annPath, a.FQN()).
		With(annWaitTime, max(wait, 0)).
		With(annKind, a.Exec.Kind).
		With(annTimeout, o.timedOut).
		With(annLimits, a.Limits)
	if o.cold {
		anns = anns.With(annInitTime, o.initTime.Milliseconds())
	}
	anns = withMessageAnnotations(anns, msg)
	logs := o.logs
	if logs == nil {
		logs = []string{}
	}
	return entity.Activation{
		DocMeta:      entity.DocMeta{ID: activationDocID(msg)},
		Name:         a.Name,
		Updated:      now.UnixMilli(),
		EntityType:   entity.TypeActivation,
		Namespace:    msg.User.Namespace.Name,
		Subject:      msg.User.Subject,
		ActivationID: msg.ActivationID,
		Cause:        msg.Cause,
		Start:        start,
		End:          end,
		Duration:     &duration,
		Response:     o.response,
		Logs:         logs,
		Version:      a.Version,
		Publish:      false,
		Annotations:  anns,
	}
}

// fallbackActivation is InvokerReactive.generateFallbackActivation: a
// zero-length activation for a message whose action could not be run at all.
func fallbackActivation(msg *message.Activation, resp entity.ActivationResponse, now time.Time) entity.Activation {
	ms := now.UnixMilli()
	zero := int64(0)
	version := msg.Action.Version
	if version == "" {
		version = "0.0.1" // SemVer()
	}
	anns := entity.KeyValues{}.
		With(annPath, msg.Action.Path+"/"+msg.Action.Name).
		With(annKind, kindUnknown)
	if msg.Cause != "" {
		anns = anns.With(annCausedBy, entity.KindSequence)
	}
	return entity.Activation{
		DocMeta:      entity.DocMeta{ID: activationDocID(msg)},
		Name:         msg.Action.Name,
		Updated:      ms,
		EntityType:   entity.TypeActivation,
		Namespace:    msg.User.Namespace.Name,
		Subject:      msg.User.Subject,
		ActivationID: msg.ActivationID,
		Cause:        msg.Cause,
		Start:        ms,
		End:          ms,
		Duration:     &zero,
		Response:     resp,
		Logs:         []string{},
		Version:      version,
		Annotations:  anns,
	}
}

func withMessageAnnotations(anns entity.KeyValues, msg *message.Activation) entity.KeyValues {
	if msg.Cause != "" {
		anns = anns.With(annCausedBy, entity.KindSequence)
	}
	if b := msg.Action.Binding; b != "" {
		anns = anns.With(annBinding, b)
	}
	return anns
}

// activationDocID is the activation's document id: the invoking user's
// namespace and the activation id.
func activationDocID(msg *message.Activation) string {
	return msg.User.Namespace.Name + "/" + msg.ActivationID
}

// transStart returns the start time recorded in a transaction id
// ([id, startMillis, ...]).
func transStart(t message.TransID) (time.Time, bool) {
	if len(t) < 2 {
		return time.Time{}, false
	}
	var ms int64
	if err := json.Unmarshal(t[1], &ms); err != nil || ms <= 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(ms), true
}
