// Package entity holds OpenWhisk's entity documents as they are stored in
// CouchDB (the whisks, subjects and activations databases) and as the REST API
// shows them. The sidecar and the local stack share these types, so both read
// and write exactly what a stock OpenWhisk does.
//
// Field names, optional fields and defaults follow OpenWhisk's serializers
// (common/scala/.../core/entity). Optional Scala fields that are None are left
// out of the JSON, never written as null.
package entity

import (
	"encoding/json"
	"fmt"
)

// Entity types as written in the entityType field.
const (
	TypeAction     = "action"
	TypeTrigger    = "trigger"
	TypeRule       = "rule"
	TypePackage    = "package"
	TypeActivation = "activation"
)

// Attachment is a CouchDB attachment stub (or inline data on write).
type Attachment struct {
	ContentType string `json:"content_type"`
	Revpos      int    `json:"revpos,omitempty"`
	Digest      string `json:"digest,omitempty"`
	Length      int64  `json:"length,omitempty"`
	Stub        bool   `json:"stub,omitempty"`
	Data        []byte `json:"data,omitempty"`
}

// DocMeta is the CouchDB part of every document.
type DocMeta struct {
	ID          string                `json:"_id,omitempty"`
	Rev         string                `json:"_rev,omitempty"`
	Deleted     bool                  `json:"_deleted,omitempty"`
	Attachments map[string]Attachment `json:"_attachments,omitempty"`
}

// FullyQualifiedName is OpenWhisk's {path, name[, version][, binding]}
// object used by rules, trigger rule links and activation messages. Binding
// (the package binding an action was invoked through, "ns/binding") appears
// only in activation messages.
type FullyQualifiedName struct {
	Path    string `json:"path"`
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Binding string `json:"binding,omitempty"`
}

// String renders path/name.
func (f FullyQualifiedName) String() string { return f.Path + "/" + f.Name }

// Kind reports the entityType of a raw document, or "" when it has none
// (design documents, subjects).
func Kind(raw []byte) (string, error) {
	var probe struct {
		EntityType string `json:"entityType"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return "", fmt.Errorf("entity: probe type: %w", err)
	}
	return probe.EntityType, nil
}
