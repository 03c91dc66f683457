package message

import (
	"encoding/json"
	"fmt"
)

// Event types on the events topic.
const (
	EventActivation = "Activation"
	EventMetric     = "Metric"
)

// ActivationEvent is the body of an Activation user event.
type ActivationEvent struct {
	Name                  string `json:"name"`
	ActivationID          string `json:"activationId"`
	StatusCode            int    `json:"statusCode"`
	Duration              int64  `json:"duration"`
	WaitTime              int64  `json:"waitTime"`
	InitTime              int64  `json:"initTime"`
	Kind                  string `json:"kind"`
	Conductor             bool   `json:"conductor"`
	Memory                int    `json:"memory"`
	CausedBy              string `json:"causedBy,omitempty"`
	Size                  *int   `json:"size,omitempty"`
	UserDefinedStatusCode *int   `json:"userDefinedStatusCode,omitempty"`
}

// MetricEvent is the body of a Metric user event.
type MetricEvent struct {
	MetricName  string `json:"metricName"`
	MetricValue int64  `json:"metricValue"`
}

// Event is an EventMessage on the events topic. Exactly one of Activation
// and Metric is set, chosen by EventType.
type Event struct {
	Source     string           `json:"source"`
	Body       json.RawMessage  `json:"body"`
	Subject    string           `json:"subject"`
	Namespace  string           `json:"namespace"`
	UserID     string           `json:"userId"`
	EventType  string           `json:"eventType"`
	Timestamp  int64            `json:"timestamp"`
	Activation *ActivationEvent `json:"-"`
	Metric     *MetricEvent     `json:"-"`
}

type eventJSON Event

// MarshalJSON encodes the typed body when one is set.
func (e Event) MarshalJSON() ([]byte, error) {
	j := eventJSON(e)
	var err error
	switch {
	case e.Activation != nil:
		j.Body, err = json.Marshal(e.Activation)
	case e.Metric != nil:
		j.Body, err = json.Marshal(e.Metric)
	}
	if err != nil {
		return nil, fmt.Errorf("message: event body: %w", err)
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the body by eventType.
func (e *Event) UnmarshalJSON(b []byte) error {
	var j eventJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("message: event: %w", err)
	}
	*e = Event(j)
	switch e.EventType {
	case EventActivation:
		var a ActivationEvent
		if err := json.Unmarshal(e.Body, &a); err != nil {
			return fmt.Errorf("message: activation event body: %w", err)
		}
		e.Activation = &a
	case EventMetric:
		var m MetricEvent
		if err := json.Unmarshal(e.Body, &m); err != nil {
			return fmt.Errorf("message: metric event body: %w", err)
		}
		e.Metric = &m
	default:
		return fmt.Errorf("message: unknown event type %q", e.EventType)
	}
	return nil
}
