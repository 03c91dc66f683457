package entity

import "encoding/json"

// ReducedRule is a trigger's link to a rule: the rule's action and status.
type ReducedRule struct {
	Action FullyQualifiedName `json:"action"`
	Status string             `json:"status"`
}

// Rule statuses.
const (
	StatusActive   = "active"
	StatusInactive = "inactive"
)

// Trigger is a document of entityType "trigger". Its rules map is keyed by
// the rule's document id.
type Trigger struct {
	DocMeta
	Name        string                 `json:"name"`
	Updated     int64                  `json:"updated,omitempty"`
	EntityType  string                 `json:"entityType,omitempty"`
	Namespace   string                 `json:"namespace"`
	Parameters  KeyValues              `json:"parameters"`
	Limits      json.RawMessage        `json:"limits"`
	Version     string                 `json:"version"`
	Publish     bool                   `json:"publish"`
	Annotations KeyValues              `json:"annotations"`
	Rules       map[string]ReducedRule `json:"rules,omitempty"`
}

// Rule is a document of entityType "rule". Its status lives only in the
// trigger's rules map.
type Rule struct {
	DocMeta
	Name        string             `json:"name"`
	Updated     int64              `json:"updated,omitempty"`
	EntityType  string             `json:"entityType,omitempty"`
	Namespace   string             `json:"namespace"`
	Trigger     FullyQualifiedName `json:"trigger"`
	Action      FullyQualifiedName `json:"action"`
	Version     string             `json:"version"`
	Publish     bool               `json:"publish"`
	Annotations KeyValues          `json:"annotations"`
}

// RuleView is a rule as GET /rules/{name} returns it, with its status.
type RuleView struct {
	Namespace   string             `json:"namespace"`
	Name        string             `json:"name"`
	Status      string             `json:"status"`
	Trigger     FullyQualifiedName `json:"trigger"`
	Action      FullyQualifiedName `json:"action"`
	Version     string             `json:"version"`
	Publish     bool               `json:"publish"`
	Annotations KeyValues          `json:"annotations"`
	Updated     int64              `json:"updated,omitempty"`
}

// RulePut is the body of PUT /rules/{name}: trigger and action as "/ns/name"
// strings.
type RulePut struct {
	Name    string `json:"name,omitempty"`
	Status  string `json:"status"`
	Trigger string `json:"trigger,omitempty"`
	Action  string `json:"action,omitempty"`
}

// Binding is a package binding ({} for a real package).
type Binding struct {
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
}

// IsBinding reports whether b points at another package.
func (b Binding) IsBinding() bool { return b.Name != "" }

// Package is a document of entityType "package".
type Package struct {
	DocMeta
	Name        string    `json:"name"`
	Updated     int64     `json:"updated,omitempty"`
	EntityType  string    `json:"entityType,omitempty"`
	Namespace   string    `json:"namespace"`
	Binding     Binding   `json:"binding"`
	Parameters  KeyValues `json:"parameters"`
	Version     string    `json:"version"`
	Publish     bool      `json:"publish"`
	Annotations KeyValues `json:"annotations"`
}

// SubjectNamespace is one namespace a subject owns, with its key.
type SubjectNamespace struct {
	Name string `json:"name"`
	UUID string `json:"uuid"`
	Key  string `json:"key"`
}

// Subject is a document of the subjects database.
type Subject struct {
	DocMeta
	Subject    string             `json:"subject"`
	Namespaces []SubjectNamespace `json:"namespaces"`
	Blocked    bool               `json:"blocked,omitempty"`
}

// NamespaceLimits is the "<namespace>/limits" document of the subjects
// database. Absent fields fall back to the system limits.
type NamespaceLimits struct {
	DocMeta
	InvocationsPerMinute  *int     `json:"invocationsPerMinute,omitempty"`
	ConcurrentInvocations *int     `json:"concurrentInvocations,omitempty"`
	FiresPerMinute        *int     `json:"firesPerMinute,omitempty"`
	AllowedKinds          []string `json:"allowedKinds,omitempty"`
	StoreActivations      *bool    `json:"storeActivations,omitempty"`
	MinActionMemory       *int     `json:"minActionMemory,omitempty"`
	MaxActionMemory       *int     `json:"maxActionMemory,omitempty"`
	MinActionTimeout      *int     `json:"minActionTimeout,omitempty"`
	MaxActionTimeout      *int     `json:"maxActionTimeout,omitempty"`
	MinActionLogs         *int     `json:"minActionLogs,omitempty"`
	MaxActionLogs         *int     `json:"maxActionLogs,omitempty"`
	MinActionConcurrency  *int     `json:"minActionConcurrency,omitempty"`
	MaxActionConcurrency  *int     `json:"maxActionConcurrency,omitempty"`
	MaxParameterSize      string   `json:"maxParameterSize,omitempty"`
	MaxPayloadSize        string   `json:"maxPayloadSize,omitempty"`
	TruncationSize        string   `json:"truncationSize,omitempty"`
	MaxActionInstances    *int     `json:"maxActionInstances,omitempty"`
}
