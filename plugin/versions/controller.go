// Package versions is fnmgr's Version Controller. It turns every observed
// change of an OpenWhisk action into a revision (a LATEST snapshot), and
// publishes immutable versions as the OpenWhisk actions name@N, aliases as
// name@alias, and rollbacks, keeping the Meta Registry (plugin/registry),
// the Storage Handler (plugin/storage) and OpenWhisk in step.
//
// Every step is idempotent and ordered so that a crash at any point loses
// no code: the artifact is stored before the revision that names it, the
// revision before the function document that points at it, a version
// number is reserved before it is used (numbers are never reused), and the
// OpenWhisk actions are written last, from the registry, by Reconcile.
package versions

import (
	"context"
	"log/slog"
	"time"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/storage"
)

// Actions is OpenWhisk's action store as fnmgr uses it (plugin/openwhisk
// implements it over CouchDB plus cache invalidation).
type Actions interface {
	Get(ctx context.Context, docid string) (entity.Action, error)
	Code(ctx context.Context, a entity.Action) ([]byte, error)
	Put(ctx context.Context, a entity.Action, code []byte) (entity.Action, error)
	Modify(ctx context.Context, docid string, fn func(*entity.Action) (bool, error)) (entity.Action, error)
	Delete(ctx context.Context, docid string) error
	// GetRev reads an earlier revision rev of docid, and History lists
	// docid's revisions up to rev, oldest first (see whiskdb.RevHistory).
	GetRev(ctx context.Context, docid, rev string) (entity.Action, error)
	History(ctx context.Context, docid, rev string) ([]string, error)
	// Invalidate drops the controllers' cached copy of docid.
	Invalidate(ctx context.Context, docid string) error
}

// Options configure a Controller.
type Options struct {
	Registry Registry
	Storage  storage.Store
	Actions  Actions
	// Retention is how many revisions of a function are kept (default 50).
	// Published versions are kept until retired.
	Retention int
	// StubKind is the runtime kind of stubs for functions whose own kind
	// is neither nodejs nor python when StubKinds is nil or cannot answer
	// (default "nodejs:20").
	StubKind string
	// Limits, when set, checks the limits a rollback writes against the
	// deployment (plugin/deployment.Info).
	Limits LimitsChecker
	// StubKinds, when set, chooses that kind among those the deployment
	// offers (plugin/deployment.Info).
	StubKinds StubKinds
	// RetireGrace is how long a function whose action was deleted outside
	// fnmgr stays RETIRED before it is purged (default 24h; the lifecycle
	// controller's default grace).
	RetireGrace time.Duration
	// OnNew is called once for every function fnmgr sees for the first
	// time (the optimizer's policy hook); it must not block for long.
	OnNew func(ctx context.Context, ns, name string, annotations entity.KeyValues)
	// AnnotateDelay is how long after the last observed change of a
	// function fnmgr writes its state annotations (default 2s).
	AnnotateDelay time.Duration
	// AnnotateWhen, when set, holds those writes back while it returns
	// false (the change feed catching up: recording comes first).
	AnnotateWhen func() bool
	Logger       *slog.Logger
	Metrics      *Metrics
	Now          func() time.Time
}

// StubKinds chooses the runtime kind of a stub.
type StubKinds interface {
	StubKind(ctx context.Context) (string, error)
}

// kindForStub is the kind of the stub of a function of kind own: its own
// when nodejs or python (the deployment is not asked), else the
// deployment's choice, else the configured default.
func (c *Controller) kindForStub(ctx context.Context, own string) string {
	if f := entity.Family(own); f == "nodejs" || f == "python" || c.stubKinds == nil {
		return c.stubKind
	}
	k, err := c.stubKinds.StubKind(ctx)
	if err != nil {
		c.log.Warn("choose the stub kind among the deployment's runtimes; using the default", "kind", c.stubKind, "err", err)
		return c.stubKind
	}
	return k
}

// Controller is safe for concurrent use; changes of one function are
// serialised by the registry's revisions.
type Controller struct {
	reg       Registry
	store     storage.Store
	ow        Actions
	retention int
	log       *slog.Logger
	m         *Metrics
	now       func() time.Time
	stubKind  string
	stubKinds StubKinds
	limits    LimitsChecker
	ann       *annotator
	onNew     func(ctx context.Context, ns, name string, annotations entity.KeyValues)
	seen      *seenRevs
	grace     time.Duration
}

// New returns a Controller.
func New(o Options) *Controller {
	if o.Retention <= 0 {
		o.Retention = 50
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AnnotateDelay <= 0 {
		o.AnnotateDelay = 2 * time.Second
	}
	if o.RetireGrace <= 0 {
		o.RetireGrace = 24 * time.Hour
	}
	if o.StubKind == "" {
		o.StubKind = "nodejs:20"
	}
	return &Controller{reg: o.Registry, store: o.Storage, ow: o.Actions, retention: o.Retention,
		log: o.Logger.With("component", "versions"), m: o.Metrics, now: o.Now, stubKind: o.StubKind, stubKinds: o.StubKinds, limits: o.Limits,
		ann: newAnnotator(o.AnnotateDelay, o.AnnotateWhen), onNew: o.OnNew, seen: newSeenRevs(), grace: o.RetireGrace}
}

// Annotations fnmgr writes on the actions it manages.
const (
	AnnotationState   = "fnmgr-state"
	AnnotationVersion = "fnmgr-version"
	AnnotationAlias   = "fnmgr-alias"
	AnnotationOf      = "fnmgr-of" // on name@N / name@alias: the base function
)
