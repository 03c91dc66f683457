package message

import (
	"bytes"
	"encoding/json"
	"math/big"
	"net/http"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// NewActivationEvent is EventMessage's Activation.from (OpenWhisk master
// 1fae641a2, common/scala/src/main/scala/org/apache/openwhisk/core/
// connector/Message.scala): the Activation user event of a, from source
// ("invoker0", "controller0") for the user userID, stamped now. Name and
// kind come from the path and kind annotations, which OpenWhisk requires:
// without either there is no event (ok false). Wait and init times,
// memory (of the limits annotation), conductor and causedBy come from the
// other annotations (WhiskActivation's *Annotation names), the status code
// a user set from the result (userDefinedStatusCode).
func NewActivationEvent(a *entity.Activation, source, userID string, now time.Time) (Event, bool) {
	path, ok := a.Annotations.String("path")
	if !ok {
		return Event{}, false
	}
	kind, ok := a.Annotations.String("kind")
	if !ok {
		return Event{}, false
	}
	body := &ActivationEvent{
		Name:                  path,
		ActivationID:          a.ActivationID,
		StatusCode:            a.Response.StatusCode,
		Kind:                  kind,
		Conductor:             a.Annotations.Bool("conductor"),
		Size:                  a.Response.Size,
		UserDefinedStatusCode: userDefinedStatusCode(a.Response.Result),
	}
	body.WaitTime, _ = entity.Value[int64](a.Annotations, "waitTime")
	body.InitTime, _ = entity.Value[int64](a.Annotations, "initTime")
	if l, ok := entity.Value[entity.Limits](a.Annotations, "limits"); ok {
		body.Memory = l.Memory
	}
	body.CausedBy, _ = a.Annotations.String("causedBy")
	if a.Duration != nil {
		body.Duration = *a.Duration
	}
	return Event{
		Source:     source,
		Subject:    a.Subject,
		Namespace:  a.Namespace,
		UserID:     userID,
		EventType:  EventActivation,
		Timestamp:  now.UnixMilli(),
		Activation: body,
	}, true
}

// userDefinedStatusCode is Activation.userDefinedStatusCode: the result's
// error.statusCode, else its statusCode, as an integer (a number is
// truncated, a string parsed); any other value gives 400. It is absent when
// the result is no object or has neither field.
func userDefinedStatusCode(result json.RawMessage) *int {
	var obj map[string]json.RawMessage
	if json.Unmarshal(result, &obj) != nil || obj == nil {
		return nil
	}
	raw, ok := json.RawMessage(nil), false
	if e, found := obj["error"]; found {
		var inner map[string]json.RawMessage
		if json.Unmarshal(e, &inner) == nil && inner != nil {
			raw, ok = inner["statusCode"]
		}
	}
	if !ok {
		raw, ok = obj["statusCode"]
	}
	if !ok {
		return nil
	}
	code := http.StatusBadRequest
	if n, ok := jsonBigInt(raw); ok {
		code = int(int32(n.Int64())) // BigInt.intValue: the low 32 bits
	}
	return &code
}

// jsonBigInt converts a JSON number (truncated toward zero) or a string of
// decimal digits to an integer, as spray-json's BigInt reader does.
func jsonBigInt(raw json.RawMessage) (*big.Int, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, false
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, false
		}
		return new(big.Int).SetString(s, 10)
	}
	var num json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&num) != nil {
		return nil, false
	}
	f, ok := new(big.Float).SetString(num.String())
	if !ok {
		return nil, false
	}
	n, _ := f.Int(nil)
	return n, true
}
