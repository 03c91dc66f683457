package api

import (
	"encoding/json"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// PublishRequest is the body of POST …/versions.
type PublishRequest struct {
	Description string `json:"description,omitempty"`
}

// PublishedVersion answers POST …/versions (201 for a new version, 200
// when the head already was the newest) and POST …/rollback. (The fields
// of these small answers are in the order the server always sent them.)
type PublishedVersion struct {
	Digest  string `json:"digest"`
	Version int    `json:"version"`
}

// RetiredVersion answers DELETE …/versions/{n}.
type RetiredVersion struct {
	Retired bool `json:"retired"`
	Version int  `json:"version"`
}

// AliasRequest is the body of PUT …/aliases/{alias}: either Version (one
// route of weight 100) or Routing.
type AliasRequest struct {
	Version *int    `json:"version,omitempty"`
	Routing []Route `json:"routing,omitempty"`
}

// DeletedAlias answers DELETE …/aliases/{alias}.
type DeletedAlias struct {
	Alias   string `json:"alias"`
	Deleted bool   `json:"deleted"`
}

// RollbackRequest is the body of POST …/rollback.
type RollbackRequest struct {
	Version int `json:"version"`
}

// BlockRequest is the body of POST …/block.
type BlockRequest struct {
	Reason string `json:"reason,omitempty"`
}

// RetireRequest is the body of POST …/retire; GraceSeconds nil takes the
// server's --retire-grace.
type RetireRequest struct {
	Reason       string `json:"reason,omitempty"`
	GraceSeconds *int64 `json:"graceSeconds,omitempty"`
}

// UpdateRequest is the body of POST …/update: the parts of the action to
// change (as a wsk action update sends them) and, when Test is set, the
// payload of a test invocation that must succeed before the update is kept.
type UpdateRequest struct {
	Exec        *entity.ExecPut   `json:"exec,omitempty"`
	Limits      *entity.LimitsPut `json:"limits,omitempty"`
	Parameters  entity.KeyValues  `json:"parameters,omitempty"`
	Annotations entity.KeyValues  `json:"annotations,omitempty"`
	Test        json.RawMessage   `json:"test,omitempty"`
}

// ConfigRequest is the body of PUT …/config: the settings to change
// (SPEC.md section 2); a field left out keeps its value.
type ConfigRequest struct {
	BaseImage     *string `json:"baseImage,omitempty"`
	MemorySize    *int    `json:"memorySize,omitempty"`
	GPUNum        *int    `json:"gpuNum,omitempty"`
	GPUMemorySize *int    `json:"gpuMemorySize,omitempty"`
	GPUPercentage *int    `json:"gpuPercentage,omitempty"`
}

// OptimizationStarted answers POST …/optimizations (202, with Location).
type OptimizationStarted struct {
	ID string `json:"id"`
}
