package entity

import "encoding/json"

// Limits are an action's limits as stored: timeout (ms), memory (MB), logs
// (MB), concurrency, and instances only when set.
type Limits struct {
	Timeout     int  `json:"timeout"`
	Memory      int  `json:"memory"`
	Logs        int  `json:"logs"`
	Concurrency int  `json:"concurrency"`
	Instances   *int `json:"instances,omitempty"`
}

// DefaultLimits are OpenWhisk's standard action limits.
func DefaultLimits() Limits {
	return Limits{Timeout: 60000, Memory: 256, Logs: 10, Concurrency: 1}
}

// Action is a document of entityType "action" in the whisks database.
type Action struct {
	DocMeta
	Name        string    `json:"name"`
	Updated     int64     `json:"updated,omitempty"`
	EntityType  string    `json:"entityType,omitempty"`
	Namespace   string    `json:"namespace"`
	Exec        Exec      `json:"exec"`
	Parameters  KeyValues `json:"parameters"`
	Limits      Limits    `json:"limits"`
	Version     string    `json:"version"`
	Publish     bool      `json:"publish"`
	Annotations KeyValues `json:"annotations"`
}

// FQN is the action's fully qualified name without a leading slash
// ("guest/hello", "guest/demo/hello").
func (a Action) FQN() string { return a.Namespace + "/" + a.Name }

// LimitsPut is the limits object of a PUT: every field optional.
type LimitsPut struct {
	Timeout     *int `json:"timeout,omitempty"`
	Memory      *int `json:"memory,omitempty"`
	Logs        *int `json:"logs,omitempty"`
	Concurrency *int `json:"concurrency,omitempty"`
	Instances   *int `json:"instances,omitempty"`
}

// ActionPut is the body of PUT /namespaces/{ns}/actions/{name}
// (WhiskActionPut). Name and namespace in the body are ignored by the server.
type ActionPut struct {
	Namespace      string     `json:"namespace,omitempty"`
	Name           string     `json:"name,omitempty"`
	Exec           *ExecPut   `json:"exec,omitempty"`
	Parameters     KeyValues  `json:"parameters,omitempty"`
	Limits         *LimitsPut `json:"limits,omitempty"`
	Version        string     `json:"version,omitempty"`
	Publish        *bool      `json:"publish,omitempty"`
	Annotations    KeyValues  `json:"annotations,omitempty"`
	DelAnnotations []string   `json:"delAnnotations,omitempty"`
}

// ExecPut is exec as a client sends it: code is a string (base64 for
// binary), binary is usually absent and inferred by the server.
type ExecPut struct {
	Kind       string   `json:"kind"`
	Code       *string  `json:"code,omitempty"`
	Image      string   `json:"image,omitempty"`
	Init       string   `json:"init,omitempty"`
	Main       string   `json:"main,omitempty"`
	Components []string `json:"components,omitempty"`
	Binary     *bool    `json:"binary,omitempty"`
}

// ActionView is an action as the REST API returns it (no CouchDB fields,
// code inlined as a string or left out).
type ActionView struct {
	Namespace   string    `json:"namespace"`
	Name        string    `json:"name"`
	Exec        Exec      `json:"exec"`
	Parameters  KeyValues `json:"parameters"`
	Limits      Limits    `json:"limits"`
	Version     string    `json:"version"`
	Publish     bool      `json:"publish"`
	Annotations KeyValues `json:"annotations"`
	Updated     int64     `json:"updated,omitempty"`
}

// ActionSummary is an item of an action list (the view summary).
type ActionSummary struct {
	Namespace   string    `json:"namespace"`
	Name        string    `json:"name"`
	Version     string    `json:"version"`
	Publish     bool      `json:"publish"`
	Annotations KeyValues `json:"annotations"`
	Limits      Limits    `json:"limits"`
	Exec        struct {
		Binary bool `json:"binary"`
	} `json:"exec"`
	Updated int64 `json:"updated,omitempty"`
}

// Summary returns the list item for a.
func (a Action) Summary() ActionSummary {
	s := ActionSummary{Namespace: a.Namespace, Name: a.Name, Version: a.Version, Publish: a.Publish,
		Annotations: a.Annotations, Limits: a.Limits, Updated: a.Updated}
	s.Exec.Binary = a.Exec.Binary
	return s
}

// View returns the REST form of a with exec replaced by e (the caller inlines
// or strips the code).
func (a Action) View(e Exec) ActionView {
	return ActionView{Namespace: a.Namespace, Name: a.Name, Exec: e, Parameters: a.Parameters, Limits: a.Limits,
		Version: a.Version, Publish: a.Publish, Annotations: a.Annotations, Updated: a.Updated}
}

// Clone returns a deep copy of a (through JSON, so every nested slice is new).
func (a Action) Clone() Action {
	b, err := json.Marshal(a)
	if err != nil {
		return a
	}
	var out Action
	if err := json.Unmarshal(b, &out); err != nil {
		return a
	}
	return out
}
