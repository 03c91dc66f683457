package message

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// AckKind tells the three acknowledgement messages apart.
type AckKind int

// Acknowledgement kinds (AcknowledgementMessage.serdes.read).
const (
	AckResult     AckKind = iota // response only
	AckCompletion                // instance only: frees the slot
	AckCombined                  // response and instance
)

// AckResponse is the response of a result message: the whole activation, or
// only its id when the message was shrunk.
type AckResponse struct {
	ActivationID string
	Activation   *entity.Activation
}

// MarshalJSON writes the activation or the bare id.
func (r AckResponse) MarshalJSON() ([]byte, error) {
	if r.Activation != nil {
		return json.Marshal(r.Activation)
	}
	return json.Marshal(r.ActivationID)
}

// UnmarshalJSON reads either form.
func (r *AckResponse) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		r.Activation = nil
		return json.Unmarshal(b, &r.ActivationID)
	}
	var a entity.Activation
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("message: ack response: %w", err)
	}
	r.Activation, r.ActivationID = &a, a.ActivationID
	return nil
}

// Ack is any message on completed{N}: ResultMessage, CompletionMessage or
// CombinedCompletionAndResultMessage.
type Ack struct {
	TransID       TransID          `json:"transid"`
	Response      *AckResponse     `json:"response,omitempty"`
	ActivationID  string           `json:"activationId,omitempty"`
	IsSystemError *bool            `json:"isSystemError,omitempty"`
	Instance      *InvokerInstance `json:"instance,omitempty"`
}

// Kind classifies the message as OpenWhisk does: instance and response is
// combined, instance alone is a completion, otherwise a result.
func (a Ack) Kind() AckKind {
	switch {
	case a.Instance != nil && a.Response != nil:
		return AckCombined
	case a.Instance != nil:
		return AckCompletion
	default:
		return AckResult
	}
}

// ID returns the activation id the message is about.
func (a Ack) ID() string {
	if a.Response != nil {
		return a.Response.ActivationID
	}
	return a.ActivationID
}
