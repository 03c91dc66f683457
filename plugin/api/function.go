package api

import (
	"encoding/json"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// State is a function's lifecycle state.
type State string

// Lifecycle states (SPEC.md section 3).
const (
	Latest    State = "LATEST"
	Published State = "PUBLISHED"
	Blocked   State = "BLOCKED"
	Updating  State = "UPDATING"
	Retired   State = "RETIRED"
)

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	switch s {
	case Latest, Published, Blocked, Updating, Retired:
		return true
	}
	return false
}

// Runnable reports whether code may run in state s.
func (s State) Runnable() bool { return s == Latest || s == Published }

// Function is a function as GET …/functions/{fn} (and the list, and every
// lifecycle operation) answers it.
type Function struct {
	Namespace string           `json:"namespace"`
	Name      string           `json:"name"` // "hello" or "pkg/hello"
	State     State            `json:"state"`
	Head      Head             `json:"head"`
	Versions  []VersionRef     `json:"versions"`
	Aliases   map[string]Alias `json:"aliases"`
	Config    Config           `json:"config"`
	Limits    entity.Limits    `json:"limits"`
	Reason    string           `json:"reason,omitempty"`
	PurgeAt   *time.Time       `json:"purgeAt,omitempty"`
	Purged    bool             `json:"purged,omitempty"`
	Gone      bool             `json:"gone,omitempty"`
	// Untracked says why fnmgr could not record the action's latest
	// change (its code could not be read); empty when it is tracked.
	Untracked string `json:"untracked,omitempty"`
	// Transition is a lifecycle operation in progress (or cut short by a
	// crash, until fnmgr finishes it after its restart); its Update is
	// never shown.
	Transition *Transition `json:"transition,omitempty"`
}

// Head is the function's current revision.
type Head struct {
	Revision int       `json:"revision"`
	Digest   string    `json:"digest"`
	Updated  time.Time `json:"updated"`
}

// VersionRef is a published version as a function lists it.
type VersionRef struct {
	Version     int       `json:"version"`
	Digest      string    `json:"digest"`
	Created     time.Time `json:"created"`
	Description string    `json:"description,omitempty"`
}

// Route is one weighted target of an alias.
type Route struct {
	Version int `json:"version"`
	Weight  int `json:"weight"`
}

// Alias routes calls of name@alias to versions by weight; the OpenWhisk
// action name@alias runs the first route's version. A function's aliases
// map names to it.
type Alias struct {
	Routing []Route   `json:"routing"`
	Updated time.Time `json:"updated"`
}

// NamedAlias is one alias with its name: the answer of PUT and GET
// …/aliases/{alias}.
type NamedAlias struct {
	Alias   string    `json:"alias"`
	Routing []Route   `json:"routing"`
	Updated time.Time `json:"updated"`
}

// Config holds a function's validated run-time settings: the answer of PUT
// …/config and a function's config.
type Config struct {
	BaseImage     string `json:"baseImage,omitempty"`
	MemorySize    int    `json:"memorySize,omitempty"`
	GPUNum        *int   `json:"gpuNum,omitempty"`
	GPUMemorySize *int   `json:"gpuMemorySize,omitempty"`
	GPUPercentage *int   `json:"gpuPercentage,omitempty"`
}

// Transition is an intent: a lifecycle operation fnmgr has started.
type Transition struct {
	Op      string          `json:"op"` // block, unblock, update, retire, purge
	From    State           `json:"from"`
	To      State           `json:"to"`
	By      string          `json:"by,omitempty"`
	Reason  string          `json:"reason,omitempty"`
	Started time.Time       `json:"started"`
	Update  json.RawMessage `json:"update,omitempty"` // the update request, for op update; kept in the registry only
}
