// Package fnenv builds, for integration tests, fnmgr's version machinery
// over a real CouchDB-protocol server: OpenWhisk's whisks database, the
// Meta Registry, a Storage Handler, the Version Controller and a change
// feed follower feeding it.
package fnenv

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/feed"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/plugin/openwhisk"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/storage"
	"github.com/fnmgr/fnmgr/plugin/versions"
	"github.com/fnmgr/fnmgr/tests/couchtest"
)

// Env is one isolated set of databases with a running follower.
type Env struct {
	T        *testing.T
	Ctx      context.Context
	Whisks   *whiskdb.Store
	Reg      *registry.Store
	Store    storage.Store
	Ctl      *versions.Controller
	Actions  *openwhisk.Actions
	url      string // the whisks database's URL
	stop     func()
	follower *feed.Follower
}

// New builds an Env with the given storage backend ("couch" or "bucket").
func New(t *testing.T, backend string, retention int) *Env {
	t.Helper()
	c := couchtest.Client(t)
	p := couchtest.Prefix(t)
	e := &Env{T: t, Ctx: context.Background()}
	e.Whisks = whiskdb.New(couchtest.DB(t, c, p+"whisks"))
	e.url = couchtest.URL(t) + "/" + p + "whisks"
	e.Reg = registry.New(couchtest.DB(t, c, p+"registry"))
	switch backend {
	case "bucket":
		b, err := storage.NewBucket(t.TempDir())
		require.NoError(t, err)
		e.Store = b
	default:
		e.Store = storage.NewCouch(couchtest.DB(t, c, p+"artifacts"))
	}
	// fnmgr reads and writes actions through a batched store, as plugin/app
	// wires it; the tests write as OpenWhisk does, through e.Whisks.
	e.Actions = openwhisk.NewActions(whiskdb.NewBatched(couchtest.DB(t, c, p+"whisks")), nil)
	e.Ctl = versions.New(versions.Options{Registry: e.Reg, Storage: e.Store, Actions: e.Actions, Retention: retention,
		AnnotateDelay: 50 * time.Millisecond})
	t.Cleanup(e.Ctl.Close)
	e.Follow()
	t.Cleanup(func() { e.Stop() })
	return e
}

// Follow starts the change-feed follower.
func (e *Env) Follow() {
	f, err := feed.New(feed.Options{URL: e.url, Handler: e.Ctl.Observe, Checkpoints: e.Reg.Checkpoint("whisks"),
		CheckpointEvery: 20 * time.Millisecond, MinBackoff: 10 * time.Millisecond, Heartbeat: time.Second})
	require.NoError(e.T, err)
	e.follower = f
	ctx, cancel := context.WithCancel(e.Ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx) }()
	e.stop = func() { cancel(); <-done }
}

// CaughtUp reports whether the follower started last has handled every
// change the database held when it connected.
func (e *Env) CaughtUp() bool { return e.follower != nil && e.follower.CaughtUp() }

// Stop stops the follower.
func (e *Env) Stop() {
	if e.stop != nil {
		e.stop()
		e.stop = nil
	}
}

// Put creates or updates guest/<name> the way OpenWhisk's controller does
// (a wsk action create/update with code).
func (e *Env) Put(name, kind, code string, memory int, params entity.KeyValues) entity.Action {
	e.T.Helper()
	a := entity.Action{Namespace: "guest", Name: name, Version: "0.0.1",
		Exec: entity.Exec{Kind: kind}, Limits: entity.DefaultLimits(), Parameters: params,
		Annotations: entity.KeyValues{}.With("exec", kind)}
	a.Limits.Memory = memory
	return e.PutAction(a, code)
}

// PutAction writes action a with code over the current revision of its
// document, as OpenWhisk's controller does (it reads the document first).
// fnmgr writes its state annotations on actions shortly after each
// change; a write that read the document before that meets a conflict
// (OpenWhisk's controller answers such a write 409 too) and is made again
// over the new revision.
func (e *Env) PutAction(a entity.Action, code string) entity.Action {
	e.T.Helper()
	for attempt := 0; ; attempt++ {
		a.Rev = ""
		if cur, err := e.Whisks.GetAction(e.Ctx, a.Namespace+"/"+a.Name, ""); err == nil {
			a.Rev = cur.Rev
		}
		out, err := e.Whisks.PutAction(e.Ctx, a, []byte(code), entity.TextContentType)
		if errors.Is(err, whiskdb.ErrConflict) && attempt < 20 {
			continue
		}
		require.NoError(e.T, err)
		return out
	}
}

// Delete deletes OpenWhisk action docid at its current revision, again
// over a newer one when fnmgr annotated it meanwhile (see PutAction).
func (e *Env) Delete(docid string) {
	e.T.Helper()
	for attempt := 0; ; attempt++ {
		cur, err := e.Whisks.GetAction(e.Ctx, docid, "")
		require.NoError(e.T, err)
		err = e.Whisks.DeleteDoc(e.Ctx, docid, cur.Rev)
		if errors.Is(err, whiskdb.ErrConflict) && attempt < 20 {
			continue
		}
		require.NoError(e.T, err)
		return
	}
}

// WaitRevisions waits until function guest/name has at least n revisions.
func (e *Env) WaitRevisions(name string, n int) registry.Function {
	e.T.Helper()
	var f registry.Function
	require.Eventually(e.T, func() bool {
		var err error
		f, err = e.Reg.GetFunction(e.Ctx, "guest", name)
		return err == nil && f.Revisions >= n
	}, 10*time.Second, 10*time.Millisecond, "waiting for %d revisions of %s", n, name)
	return f
}

// Code returns the code of OpenWhisk action docid.
func (e *Env) Code(docid string) string {
	e.T.Helper()
	a, err := e.Whisks.GetAction(e.Ctx, docid, "")
	require.NoError(e.T, err)
	b, err := e.Whisks.ActionCode(e.Ctx, a)
	require.NoError(e.T, err)
	return string(b)
}

// Action returns OpenWhisk action docid.
func (e *Env) Action(docid string) entity.Action {
	e.T.Helper()
	a, err := e.Whisks.GetAction(e.Ctx, docid, "")
	require.NoError(e.T, err)
	return a
}
