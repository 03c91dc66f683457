package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// ExecSnapshot is an action's exec with the code replaced by its digest.
type ExecSnapshot struct {
	Kind        string   `json:"kind"`
	Main        string   `json:"main,omitempty"`
	Image       string   `json:"image,omitempty"`
	Binary      bool     `json:"binary"`
	Components  []string `json:"components,omitempty"`
	CodeDigest  string   `json:"codeDigest,omitempty"` // sha256-<hex> of the stored bytes
	CodeSize    int64    `json:"codeSize,omitempty"`
	ContentType string   `json:"contentType,omitempty"`
}

// Snapshot is what defines an action's behaviour: exec (code by digest),
// limits, parameters and annotations (fnmgr's own left out).
type Snapshot struct {
	Exec        ExecSnapshot     `json:"exec"`
	Limits      entity.Limits    `json:"limits"`
	Parameters  entity.KeyValues `json:"parameters"`
	Annotations entity.KeyValues `json:"annotations"`
}

// Digest identifies a snapshot: sha256 over its JSON encoding (field order
// is fixed by the struct; parameter and annotation order is kept, as
// OpenWhisk keeps it).
func (s Snapshot) Digest() string {
	b, _ := json.Marshal(s)
	sum := sha256.Sum256(b)
	return "sha256-" + hex.EncodeToString(sum[:])
}

// Revision is one observed change of the action (a LATEST snapshot), as
// GET …/revisions lists it.
type Revision struct {
	Revision  int       `json:"revision"`
	Digest    string    `json:"digest"`
	Observed  time.Time `json:"observed"`
	OWVersion string    `json:"owVersion,omitempty"`
	Snapshot  Snapshot  `json:"snapshot"`
}

// Version is a published version as GET …/versions answers it; Code (the
// code as OpenWhisk's REST API shows it) is set with ?code=true.
type Version struct {
	Version     int       `json:"version"`
	Digest      string    `json:"digest"`
	Revision    int       `json:"revision"`
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created"`
	CreatedBy   string    `json:"createdBy,omitempty"`
	Snapshot    Snapshot  `json:"snapshot"`
	Code        *string   `json:"code,omitempty"`
}
