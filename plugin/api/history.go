package api

import "time"

// HistoryEntry is one audited operation that changed a function, as GET
// …/history lists them: a lifecycle transition (block, unblock, update,
// retire, purge), a version operation (publish, version-retire, alias,
// alias-delete, rollback, config) or a change made outside fnmgr that it
// acted on (delete, outside-change).
type HistoryEntry struct {
	At       time.Time `json:"at"` // when it ended
	From     State     `json:"from"`
	To       State     `json:"to"`
	By       string    `json:"by,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Revision int       `json:"revision"` // the head revision after it
	Op       string    `json:"op,omitempty"`
	// Started is when the operation began, DurationMs how long it took.
	Started    time.Time `json:"started,omitzero"`
	DurationMs int64     `json:"durationMs"`
	// States are the states the function passed through, in order (an
	// update's UPDATING with how long it lasted).
	States []StateStay `json:"states,omitempty"`
	// Outcome is OutcomeOK or OutcomeFailed; Error says why it failed.
	Outcome string `json:"outcome,omitempty"`
	Error   string `json:"error,omitempty"`
	// Version and Alias name what publish, version-retire, alias,
	// alias-delete and rollback acted on; Routing is an alias's new routing.
	Version int     `json:"version,omitempty"`
	Alias   string  `json:"alias,omitempty"`
	Routing []Route `json:"routing,omitempty"`
}

// StateStay is one state an operation passed through; DurationMs is how
// long the function stayed in it during the operation (0 for the state it
// started from and the one it ended in).
type StateStay struct {
	State      State `json:"state"`
	DurationMs int64 `json:"durationMs,omitempty"`
}

// History outcomes.
const (
	OutcomeOK     = "ok"
	OutcomeFailed = "failed"
)
