// Package message holds OpenWhisk's Kafka message values (UTF-8 JSON, null
// keys): activation messages, acknowledgements on completed{N}, invoker
// health pings, user events and cache invalidations. The sidecar and the
// local stack share these types.
package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// OpenWhisk's topic names (before any prefix).
const (
	TopicHealth            = "health"
	TopicEvents            = "events"
	TopicCacheInvalidation = "cacheInvalidation"
)

// InvokerTopic is the activation topic of invoker n.
func InvokerTopic(n int) string { return fmt.Sprintf("invoker%d", n) }

// CompletedTopic is the acknowledgement topic of controller c ("0").
func CompletedTopic(c string) string { return "completed" + c }

// TransID is OpenWhisk's transaction id: [id, startMillis(, extraLogging)(, parent)].
type TransID []json.RawMessage

// NewTransID builds [id, startMillis].
func NewTransID(id string, start time.Time) TransID {
	a, _ := json.Marshal(id)
	b, _ := json.Marshal(start.UnixMilli())
	return TransID{a, b}
}

// ID returns the transaction id string.
func (t TransID) ID() string {
	if len(t) == 0 {
		return ""
	}
	var s string
	_ = json.Unmarshal(t[0], &s)
	return s
}

// ControllerInstance identifies a controller (rootControllerIndex).
type ControllerInstance struct {
	AsString     string `json:"asString"`
	InstanceType string `json:"instanceType,omitempty"`
}

// Namespace is an identity's namespace.
type Namespace struct {
	Name string `json:"name"`
	UUID string `json:"uuid"`
}

// AuthKey carries the "uuid:key" API key in clear text. Never log it.
type AuthKey struct {
	APIKey string `json:"api_key"`
}

// Identity is the invoking user (subject, namespace, key, rights, limits).
type Identity struct {
	Subject   string          `json:"subject"`
	Namespace Namespace       `json:"namespace"`
	AuthKey   AuthKey         `json:"authkey"`
	Rights    []string        `json:"rights"`
	Limits    json.RawMessage `json:"limits"`
}

// LogValue keeps the key out of structured logs.
func (i Identity) LogValue() slog.Value {
	return slog.GroupValue(slog.String("subject", i.Subject), slog.String("namespace", i.Namespace.Name))
}

// Activation is the ActivationMessage a controller sends to invoker{N}.
type Activation struct {
	TransID             TransID                   `json:"transid"`
	Action              entity.FullyQualifiedName `json:"action"`
	Revision            string                    `json:"revision,omitempty"`
	User                Identity                  `json:"user"`
	ActivationID        string                    `json:"activationId"`
	RootControllerIndex ControllerInstance        `json:"rootControllerIndex"`
	Blocking            bool                      `json:"blocking"`
	Content             json.RawMessage           `json:"content,omitempty"`
	InitArgs            []string                  `json:"initArgs"`
	LockedArgs          map[string]string         `json:"lockedArgs"`
	Cause               string                    `json:"cause,omitempty"`
	TraceContext        map[string]string         `json:"traceContext,omitempty"`
}

// InvokerInstance identifies an invoker and its user memory.
type InvokerInstance struct {
	Instance            int      `json:"instance"`
	UserMemory          string   `json:"userMemory"`
	InstanceType        string   `json:"instanceType"`
	Tags                []string `json:"tags"`
	DedicatedNamespaces []string `json:"dedicatedNamespaces"`
	UniqueName          string   `json:"uniqueName,omitempty"`
	DisplayedName       string   `json:"displayedName,omitempty"`
}

// Ping is the health ping an invoker sends every second.
type Ping struct {
	Name      InvokerInstance `json:"name"`
	IsEnabled *bool           `json:"isEnabled,omitempty"`
}

// CacheKey names the entity whose cached copies must be dropped.
type CacheKey struct {
	MainID      string `json:"mainId"`
	SecondaryID string `json:"secondaryId,omitempty"`
}

// CacheInvalidation asks every controller but InstanceID to drop Key.
type CacheInvalidation struct {
	Key        CacheKey `json:"key"`
	InstanceID string   `json:"instanceId"`
}

// ErrTrailingData is what Decode wraps when a message value holds more
// than one JSON value (`{"a":1} garbage`): a Kafka value is exactly one.
var ErrTrailingData = errors.New("message: data after the JSON value")

// Decode unmarshals b, which must hold exactly one JSON value (whitespace
// around it aside), into v, naming the message type in the error.
func Decode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("message: decode %T: %w", v, err)
	}
	// More() would miss a stray '}' or ']': only the end may follow.
	end := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("message: decode %T: %w (after byte %d)", v, ErrTrailingData, end)
	}
	return nil
}
