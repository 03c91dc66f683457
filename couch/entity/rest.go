package entity

import "encoding/json"

// Error is OpenWhisk's error body: {"error": text, "code": transaction id}.
type Error struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// ActivationID is the body of a non-blocking invoke or a trigger fire.
type ActivationID struct {
	ActivationID string `json:"activationId"`
}

// Logs is the body of GET /activations/{id}/logs.
type Logs struct {
	Logs []string `json:"logs"`
}

// SystemLimits is the limits block of the controller's GET / (memory and
// logs in bytes, durations in ms).
type SystemLimits struct {
	ActionsPerMinute         int   `json:"actions_per_minute"`
	TriggersPerMinute        int   `json:"triggers_per_minute"`
	ConcurrentActions        int   `json:"concurrent_actions"`
	SequenceLength           int   `json:"sequence_length"`
	DefaultMinActionDuration int64 `json:"default_min_action_duration"`
	DefaultMaxActionDuration int64 `json:"default_max_action_duration"`
	DefaultMinActionMemory   int64 `json:"default_min_action_memory"`
	DefaultMaxActionMemory   int64 `json:"default_max_action_memory"`
	DefaultMinActionLogs     int64 `json:"default_min_action_logs"`
	DefaultMaxActionLogs     int64 `json:"default_max_action_logs"`
	MinActionDuration        int64 `json:"min_action_duration"`
	MaxActionDuration        int64 `json:"max_action_duration"`
	MinActionMemory          int64 `json:"min_action_memory"`
	MaxActionMemory          int64 `json:"max_action_memory"`
	MinActionLogs            int64 `json:"min_action_logs"`
	MaxActionLogs            int64 `json:"max_action_logs"`
}

// RuntimeInfo is one kind in the root info's runtimes.
type RuntimeInfo struct {
	Kind        string `json:"kind"`
	Image       string `json:"image"`
	Deprecated  bool   `json:"deprecated"`
	Default     bool   `json:"default"`
	Attached    bool   `json:"attached"`
	RequireMain bool   `json:"requireMain"`
}

// RootInfo is the controller's GET / body.
type RootInfo struct {
	Description string                   `json:"description"`
	Support     map[string]string        `json:"support"`
	APIPaths    []string                 `json:"api_paths"`
	Limits      SystemLimits             `json:"limits"`
	Runtimes    map[string][]RuntimeInfo `json:"runtimes"`
}

// APIInfo is the GET /api/v1 body.
type APIInfo struct {
	Description    string          `json:"description"`
	APIVersion     string          `json:"api_version"`
	APIVersionPath string          `json:"api_version_path"`
	Build          string          `json:"build"`
	BuildNo        string          `json:"buildno"`
	SwaggerPaths   json.RawMessage `json:"swagger_paths"`
}
