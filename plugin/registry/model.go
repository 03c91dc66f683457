// Package registry is fnmgr's Meta Registry: its own CouchDB database with a
// document per function (state, head, versions, aliases, run-time
// settings), one per observed revision and one per published version.
//
// Document ids sort by function and number, so listings are _all_docs range
// reads and need no views:
//
//	f:<namespace>/<name>            function
//	r:<namespace>/<name>:<%010d>    revision N (a LATEST snapshot)
//	v:<namespace>/<name>:<%010d>    published version N
//
// Concurrent writers are handled with CouchDB revisions: a 409 re-reads the
// document and re-applies the change (Update), so no write is lost.
package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/reqerr"
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

// AnnotationPrefix marks annotations fnmgr owns; they are not part of a
// snapshot.
const AnnotationPrefix = "fnmgr-"

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

// SnapshotOf takes the snapshot of action a whose stored code bytes are code.
func SnapshotOf(a entity.Action, code []byte) Snapshot {
	s := Snapshot{
		Exec: ExecSnapshot{Kind: a.Exec.Kind, Main: a.Exec.Main, Image: a.Exec.Image, Binary: a.Exec.Binary,
			Components: a.Exec.Components},
		Limits:      a.Limits,
		Parameters:  a.Parameters,
		Annotations: UserAnnotations(a.Annotations),
	}
	if s.Parameters == nil {
		s.Parameters = entity.KeyValues{}
	}
	if code != nil {
		s.Exec.CodeDigest = entity.Digest(code)
		s.Exec.CodeSize = int64(len(code))
		s.Exec.ContentType = entity.TextContentType
		if a.Exec.Binary {
			s.Exec.ContentType = entity.BinaryContentType
		}
	}
	return s
}

// UserAnnotations drops fnmgr's own annotations.
func UserAnnotations(kv entity.KeyValues) entity.KeyValues {
	out := entity.KeyValues{}
	for _, p := range kv {
		if !strings.HasPrefix(p.Key, AnnotationPrefix) {
			out = append(out, p)
		}
	}
	return out
}

// Digest identifies a snapshot: sha256 over its JSON encoding (field order
// is fixed by the struct; parameter and annotation order is kept, as
// OpenWhisk keeps it).
func (s Snapshot) Digest() string {
	b, _ := json.Marshal(s)
	sum := sha256.Sum256(b)
	return "sha256-" + hex.EncodeToString(sum[:])
}

// Head is the function's current (LATEST) revision.
type Head struct {
	Revision  int       `json:"revision"`
	Digest    string    `json:"digest"`
	Updated   time.Time `json:"updated"`
	OWRev     string    `json:"owRev,omitempty"`
	OWVersion string    `json:"owVersion,omitempty"`
}

// VersionRef lists a published version in the function document.
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
// action name@alias runs the first route's version.
type Alias struct {
	Routing []Route   `json:"routing"`
	Updated time.Time `json:"updated"`
}

// Config holds a function's validated run-time settings.
type Config struct {
	BaseImage     string `json:"baseImage,omitempty"`
	MemorySize    int    `json:"memorySize,omitempty"`
	GPUNum        *int   `json:"gpuNum,omitempty"`
	GPUMemorySize *int   `json:"gpuMemorySize,omitempty"`
	GPUPercentage *int   `json:"gpuPercentage,omitempty"`
}

// Function is the registry document of one OpenWhisk action.
type Function struct {
	ID          string           `json:"_id"`
	Rev         string           `json:"_rev,omitempty"`
	Type        string           `json:"type"`
	Namespace   string           `json:"namespace"`
	Name        string           `json:"name"` // "hello" or "pkg/hello"
	State       State            `json:"state"`
	Head        Head             `json:"head"`
	Revisions   int              `json:"revisions"`   // highest revision number issued
	LastVersion int              `json:"lastVersion"` // highest version number issued; never reused
	Versions    []VersionRef     `json:"versions"`
	Aliases     map[string]Alias `json:"aliases"`
	Config      Config           `json:"config"`
	Limits      entity.Limits    `json:"limits"`
	Gone        bool             `json:"gone,omitempty"` // the OpenWhisk action no longer exists
	// GoneAt is when fnmgr saw the action deleted: the key of the
	// deletion's history entry, so that a replay of the deletion after a
	// crash records it once.
	GoneAt *time.Time `json:"goneAt,omitempty"`
	// Untracked, when set, says why the action's latest change could not
	// be recorded (its code is kept outside CouchDB and could not be
	// read); cleared when a revision is recorded.
	Untracked string `json:"untracked,omitempty"`
	// PrevState is the state a block or an update returns to.
	PrevState State `json:"prevState,omitempty"`
	// Reason is the reason given for the current BLOCKED or RETIRED state.
	Reason string `json:"reason,omitempty"`
	// Transition is a lifecycle change in progress, recorded before
	// OpenWhisk is touched so that a restart finishes or undoes it.
	Transition *Transition `json:"transition,omitempty"`
	// PurgeAt is when a RETIRED function is purged.
	PurgeAt *time.Time `json:"purgeAt,omitempty"`
	// Purged is set once the action, versions, aliases and artifacts are gone.
	Purged bool `json:"purged,omitempty"`
	// Stubs are the digests (StubDigest) of the stubs fnmgr wrote for this
	// function, newest last: a stub is recognised only as exactly one of
	// these, never by a marker in the code a user could copy. Each is
	// recorded before the stub is written to OpenWhisk.
	Stubs   []string  `json:"stubs,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// MaxStubs bounds Function.Stubs (the oldest are dropped first).
const MaxStubs = 32

// StubDigest identifies the exec of a stub: its kind, main and binary flag
// and its code bytes.
func StubDigest(kind, main string, binary bool, code []byte) string {
	h := sha256.New()
	b, _ := json.Marshal([]any{kind, main, binary})
	h.Write(b)
	h.Write([]byte{0})
	h.Write(code)
	return "sha256-" + hex.EncodeToString(h.Sum(nil))
}

// Transition is an intent: a lifecycle operation fnmgr has started.
type Transition struct {
	Op      string          `json:"op"` // block, unblock, update, retire, purge
	From    State           `json:"from"`
	To      State           `json:"to"`
	By      string          `json:"by,omitempty"`
	Reason  string          `json:"reason,omitempty"`
	Started time.Time       `json:"started"`
	Update  json.RawMessage `json:"update,omitempty"` // the update request, for op update
}

// History is one audited operation that changed a function: a lifecycle
// transition (block, unblock, update, retire, purge), a version operation
// (publish, version-retire, alias, alias-delete, rollback) or a change
// made outside fnmgr that it acted on (delete, outside-change).
type History struct {
	ID       string    `json:"_id,omitempty"`
	Rev      string    `json:"_rev,omitempty"`
	Type     string    `json:"type,omitempty"`
	Function string    `json:"function,omitempty"`
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
	// Outcome is "ok" or "failed"; Error says why it failed.
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

// Revision is one observed change of an action (a LATEST snapshot).
type Revision struct {
	ID        string    `json:"_id"`
	Rev       string    `json:"_rev,omitempty"`
	Type      string    `json:"type"`
	Function  string    `json:"function"` // namespace/name
	Revision  int       `json:"revision"`
	Digest    string    `json:"digest"`
	Snapshot  Snapshot  `json:"snapshot"`
	OWRev     string    `json:"owRev,omitempty"`
	OWVersion string    `json:"owVersion,omitempty"`
	Observed  time.Time `json:"observed"`
	Source    string    `json:"source"` // "openwhisk" (seen on the feed) or "fnmgr"
}

// Version is an immutable published version.
type Version struct {
	ID          string    `json:"_id"`
	Rev         string    `json:"_rev,omitempty"`
	Type        string    `json:"type"`
	Function    string    `json:"function"`
	Version     int       `json:"version"`
	Digest      string    `json:"digest"`
	Snapshot    Snapshot  `json:"snapshot"`
	Revision    int       `json:"revision"` // the head revision it was published from
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created"`
	CreatedBy   string    `json:"createdBy,omitempty"`
}

// Document types.
const (
	typeFunction = "function"
	typeRevision = "revision"
	typeVersion  = "version"
	typeHistory  = "history"
)

// FunctionID is the document id of function ns/name.
func FunctionID(ns, name string) string { return "f:" + ns + "/" + name }

// RevisionID is the document id of revision n of ns/name.
func RevisionID(ns, name string, n int) string { return fmt.Sprintf("r:%s/%s:%010d", ns, name, n) }

// VersionID is the document id of version n of ns/name.
func VersionID(ns, name string, n int) string { return fmt.Sprintf("v:%s/%s:%010d", ns, name, n) }

// FQN is namespace/name.
func (f Function) FQN() string { return f.Namespace + "/" + f.Name }

// Version returns the reference of version n.
func (f Function) Version(n int) (VersionRef, bool) {
	for _, v := range f.Versions {
		if v.Version == n {
			return v, true
		}
	}
	return VersionRef{}, false
}

// Request errors (package reqerr, where each kind's HTTP status is set),
// named here for the callers that test them.
var (
	ErrInvalid = reqerr.ErrInvalid // 400
	ErrLocked  = reqerr.ErrLocked  // 423: UPDATING (and BLOCKED at the gateway)
	ErrGone    = reqerr.ErrGone    // 410
)

// SplitDocID splits an OpenWhisk action document id ("guest/hello",
// "guest/pkg/hello") into the namespace and the function name ("hello",
// "pkg/hello").
func SplitDocID(docid string) (ns, name string, ok bool) {
	ns, name, ok = strings.Cut(docid, "/")
	if !ok || ns == "" || name == "" || strings.Count(name, "/") > 1 {
		return "", "", false
	}
	return ns, name, true
}

// DocID is the OpenWhisk document id of function ns/name.
func DocID(ns, name string) string { return ns + "/" + name }

// ActionPath splits a function name into the action document's namespace
// field and name field: ("guest", "pkg/hello") → ("guest/pkg", "hello").
func ActionPath(ns, name string) (docNamespace, docName string) {
	if pkg, n, ok := strings.Cut(name, "/"); ok {
		return ns + "/" + pkg, n
	}
	return ns, name
}

// SplitManaged splits "hello@1" or "pkg/hello@prod" into the base name and
// the suffix after the last '@'.
func SplitManaged(name string) (base, suffix string, ok bool) {
	i := strings.LastIndexByte(name, '@')
	if i <= 0 || i == len(name)-1 {
		return "", "", false
	}
	return name[:i], name[i+1:], true
}

// TemporaryInfix marks the names of fnmgr's own short-lived copies of an
// action (an update's test copy name@fnmgr-update, the optimizer's probe
// copies name@fnmgr-probe-…): they are not functions and get no revisions.
const TemporaryInfix = "@fnmgr-"

// IsTemporary reports whether an action name is one of fnmgr's temporary
// copies.
func IsTemporary(name string) bool { return strings.Contains(name, TemporaryInfix) }
