package invoker

import (
	"bytes"
	"encoding/json"
	"math/big"
	"net/http"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/kafka/message"
)

// activationEvent is EventMessage.from: the Activation user event of act.
// Like OpenWhisk it needs the path and kind annotations; without them there
// is no event (ok false).
func activationEvent(act *entity.Activation, source, userID string, now time.Time) (message.Event, bool) {
	path, ok := act.Annotations.String(annPath)
	if !ok {
		return message.Event{}, false
	}
	kind, ok := act.Annotations.String(annKind)
	if !ok {
		return message.Event{}, false
	}
	body := &message.ActivationEvent{
		Name:         path,
		ActivationID: act.ActivationID,
		StatusCode:   act.Response.StatusCode,
		WaitTime:     annInt(act.Annotations, annWaitTime),
		InitTime:     annInt(act.Annotations, annInitTime),
		Kind:         kind,
		Conductor:    act.Annotations.Bool("conductor"),
		Size:         act.Response.Size,
	}
	if act.Duration != nil {
		body.Duration = *act.Duration
	}
	if raw, ok := act.Annotations.Get(annLimits); ok {
		var l entity.Limits
		if json.Unmarshal(raw, &l) == nil {
			body.Memory = l.Memory
		}
	}
	if c, ok := act.Annotations.String(annCausedBy); ok {
		body.CausedBy = c
	}
	body.UserDefinedStatusCode = userDefinedStatusCode(act.Response.Result)
	return message.Event{
		Source:     source,
		Subject:    act.Subject,
		Namespace:  act.Namespace,
		UserID:     userID,
		EventType:  message.EventActivation,
		Timestamp:  now.UnixMilli(),
		Activation: body,
	}, true
}

// annInt reads an integer annotation, 0 when absent or not an integer.
func annInt(kv entity.KeyValues, key string) int64 {
	n, _ := entity.Value[int64](kv, key)
	return n
}

// userDefinedStatusCode is Activation.userDefinedStatusCode: the result's
// error.statusCode, else its statusCode, as an integer (a number is
// truncated, a string parsed); any other value gives 400. It is absent when
// the result has neither field.
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
