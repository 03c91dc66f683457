package entity

import (
	"encoding/json"
	"fmt"
)

// Activation status codes (ActivationResponse.statusCode).
const (
	StatusSuccess          = 0
	StatusApplicationError = 1
	StatusDeveloperError   = 2
	StatusInternalError    = 3
)

// StatusText is the REST "status" string of an activation status code.
func StatusText(code int) string {
	switch code {
	case StatusSuccess:
		return "success"
	case StatusApplicationError:
		return "application error"
	case StatusDeveloperError:
		return "action developer error"
	default:
		return "whisk internal error"
	}
}

// StatusLabel is the metric/event label of a status code.
func StatusLabel(code int) string {
	switch code {
	case StatusSuccess:
		return "success"
	case StatusApplicationError:
		return "application_error"
	case StatusDeveloperError:
		return "action_developer_error"
	default:
		return "whisk_internal_error"
	}
}

// ActivationResponse is the stored response: {statusCode, result, size}.
type ActivationResponse struct {
	StatusCode int             `json:"statusCode"`
	Result     json.RawMessage `json:"result,omitempty"`
	Size       *int            `json:"size,omitempty"`
}

// Activation is a document of entityType "activation" (also the body of a
// Kafka result message, where updated and entityType are absent).
type Activation struct {
	DocMeta
	Name         string             `json:"name"`
	Updated      int64              `json:"updated,omitempty"`
	EntityType   string             `json:"entityType,omitempty"`
	Namespace    string             `json:"namespace"`
	Subject      string             `json:"subject"`
	ActivationID string             `json:"activationId"`
	Cause        string             `json:"cause,omitempty"`
	Start        int64              `json:"start"`
	End          int64              `json:"end"`
	Duration     *int64             `json:"duration,omitempty"`
	Response     ActivationResponse `json:"response"`
	Logs         []string           `json:"logs"`
	Version      string             `json:"version"`
	Publish      bool               `json:"publish"`
	Annotations  KeyValues          `json:"annotations"`
}

// RESTResponse is the response object the REST API shows: statusCode is
// replaced by success and status.
type RESTResponse struct {
	Result  json.RawMessage `json:"result,omitempty"`
	Size    *int            `json:"size,omitempty"`
	Success bool            `json:"success"`
	Status  string          `json:"status"`
}

// ActivationView is an activation as GET /activations/{id} returns it.
type ActivationView struct {
	Namespace    string       `json:"namespace"`
	Name         string       `json:"name"`
	Subject      string       `json:"subject"`
	ActivationID string       `json:"activationId"`
	Cause        string       `json:"cause,omitempty"`
	Start        int64        `json:"start"`
	End          int64        `json:"end"`
	Duration     *int64       `json:"duration,omitempty"`
	Response     RESTResponse `json:"response"`
	Logs         []string     `json:"logs"`
	Version      string       `json:"version"`
	Publish      bool         `json:"publish"`
	Annotations  KeyValues    `json:"annotations"`
}

// ActivationSummary is an item of an activation list.
type ActivationSummary struct {
	Namespace    string    `json:"namespace"`
	Name         string    `json:"name"`
	Version      string    `json:"version"`
	Publish      bool      `json:"publish"`
	Annotations  KeyValues `json:"annotations"`
	ActivationID string    `json:"activationId"`
	Start        int64     `json:"start"`
	End          int64     `json:"end"`
	Duration     *int64    `json:"duration,omitempty"`
	Cause        string    `json:"cause,omitempty"`
	StatusCode   int       `json:"statusCode"`
}

// REST converts a response to its REST form.
func (r ActivationResponse) REST() RESTResponse {
	return RESTResponse{Result: r.Result, Size: r.Size, Success: r.StatusCode == StatusSuccess, Status: StatusText(r.StatusCode)}
}

// View returns the REST form of a.
func (a Activation) View() ActivationView {
	logs := a.Logs
	if logs == nil {
		logs = []string{}
	}
	return ActivationView{Namespace: a.Namespace, Name: a.Name, Subject: a.Subject, ActivationID: a.ActivationID,
		Cause: a.Cause, Start: a.Start, End: a.End, Duration: a.Duration, Response: a.Response.REST(), Logs: logs,
		Version: a.Version, Publish: a.Publish, Annotations: a.Annotations}
}

// Summary returns the list item for a.
func (a Activation) Summary() ActivationSummary {
	return ActivationSummary{Namespace: a.Namespace, Name: a.Name, Version: a.Version, Publish: a.Publish,
		Annotations: a.Annotations, ActivationID: a.ActivationID, Start: a.Start, End: a.End, Duration: a.Duration,
		Cause: a.Cause, StatusCode: a.Response.StatusCode}
}

// ParseActivationView decodes a REST activation back into the stored form
// (status text → statusCode).
func ParseActivationView(b []byte) (Activation, error) {
	var v ActivationView
	if err := json.Unmarshal(b, &v); err != nil {
		return Activation{}, fmt.Errorf("entity: activation view: %w", err)
	}
	code := StatusInternalError
	for c := StatusSuccess; c <= StatusInternalError; c++ {
		if StatusText(c) == v.Response.Status {
			code = c
		}
	}
	return Activation{Name: v.Name, Namespace: v.Namespace, Subject: v.Subject, ActivationID: v.ActivationID,
		Cause: v.Cause, Start: v.Start, End: v.End, Duration: v.Duration,
		Response: ActivationResponse{StatusCode: code, Result: v.Response.Result, Size: v.Response.Size},
		Logs:     v.Logs, Version: v.Version, Publish: v.Publish, Annotations: v.Annotations}, nil
}
