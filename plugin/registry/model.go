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
	"github.com/fnmgr/fnmgr/plugin/api"
	"github.com/fnmgr/fnmgr/plugin/reqerr"
)

// The registry's documents and the admin API share these shapes; package
// api defines them so that clients need not import the registry.
type (
	// State is a function's lifecycle state.
	State = api.State
	// ExecSnapshot is an action's exec with the code replaced by its
	// digest.
	ExecSnapshot = api.ExecSnapshot
	// Snapshot is what defines an action's behaviour; see api.Snapshot.
	Snapshot = api.Snapshot
	// VersionRef lists a published version in the function document.
	VersionRef = api.VersionRef
	// Route is one weighted target of an alias.
	Route = api.Route
	// Alias routes calls of name@alias to versions by weight.
	Alias = api.Alias
	// Config holds a function's validated run-time settings.
	Config = api.Config
	// Transition is an intent: a lifecycle operation fnmgr has started.
	Transition = api.Transition
	// History is one audited operation that changed a function; the
	// store keeps each as a document of its own (historyDoc).
	History = api.HistoryEntry
	// StateStay is one state an operation passed through.
	StateStay = api.StateStay
)

// Lifecycle states (SPEC.md section 3).
const (
	Latest    = api.Latest
	Published = api.Published
	Blocked   = api.Blocked
	Updating  = api.Updating
	Retired   = api.Retired
)

// AnnotationPrefix marks annotations fnmgr owns; they are not part of a
// snapshot.
const AnnotationPrefix = "fnmgr-"

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

// Head is the function's current (LATEST) revision.
type Head struct {
	Revision  int       `json:"revision"`
	Digest    string    `json:"digest"`
	Updated   time.Time `json:"updated"`
	OWRev     string    `json:"owRev,omitempty"`
	OWVersion string    `json:"owVersion,omitempty"`
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

// History outcomes.
const (
	OutcomeOK     = api.OutcomeOK
	OutcomeFailed = api.OutcomeFailed
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
