package lifecycle_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/feed"
	"github.com/fnmgr/fnmgr/plugin/api"
	"github.com/fnmgr/fnmgr/plugin/lifecycle"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/reqerr"
	"github.com/fnmgr/fnmgr/plugin/storage"
	"github.com/fnmgr/fnmgr/plugin/versions"
)

// memActions is OpenWhisk's whisks database in memory, as
// versions.Actions: every write is a new revision ("N-x"), earlier
// revisions stay readable, code is kept as OpenWhisk keeps small code
// (in the attachment name, "mem:").
type memActions struct {
	mu          sync.Mutex
	revs        map[string][]entity.Action // by docid, oldest first; a deleted one ends the list with Deleted
	invalidated []string                   // docids whose cache invalidation was sent without a write
}

// Invalidate records a cache invalidation sent without a write.
func (m *memActions) Invalidate(_ context.Context, docid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.invalidated = append(m.invalidated, docid)
	return nil
}

func newMemActions() *memActions { return &memActions{revs: map[string][]entity.Action{}} }

func notFound(id string) error {
	return fmt.Errorf("mem: %s: %w", id, couch.Classify(&couch.StatusError{Status: http.StatusNotFound, ID: id, Reason: "missing"}))
}

func (m *memActions) Get(_ context.Context, docid string) (entity.Action, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := m.revs[docid]
	if len(rs) == 0 || rs[len(rs)-1].Deleted {
		return entity.Action{}, notFound(docid)
	}
	return rs[len(rs)-1], nil
}

func (m *memActions) GetRev(_ context.Context, docid, rev string) (entity.Action, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.revs[docid] {
		if a.Rev == rev && !a.Deleted {
			return a, nil
		}
	}
	return entity.Action{}, notFound(docid + "@" + rev)
}

func (m *memActions) History(_ context.Context, docid, rev string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, a := range m.revs[docid] {
		out = append(out, a.Rev)
		if a.Rev == rev {
			return out, nil
		}
	}
	return nil, notFound(docid + "@" + rev)
}

func (m *memActions) Code(_ context.Context, a entity.Action) ([]byte, error) {
	switch c := a.Exec.Code; {
	case c == nil:
		return nil, nil
	case c.Inline != nil:
		return []byte(*c.Inline), nil
	default:
		return entity.DecodeMemName(c.Ref.AttachmentName)
	}
}

// put stores a as the next revision of its document; m.mu is held.
func (m *memActions) put(a entity.Action) entity.Action {
	if a.ID == "" {
		a.ID = a.FQN()
	}
	a.EntityType, a.Deleted = entity.TypeAction, false
	a.Rev = fmt.Sprintf("%d-x", len(m.revs[a.ID])+1)
	m.revs[a.ID] = append(m.revs[a.ID], a)
	return a
}

func (m *memActions) Put(_ context.Context, a entity.Action, code []byte) (entity.Action, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a.Exec.Code = nil
	if code != nil {
		n := int64(len(code))
		a.Exec.Code = &entity.Code{Ref: &entity.CodeRef{AttachmentName: entity.MemName(code),
			AttachmentType: entity.TextContentType, Length: &n, Digest: entity.Digest(code)}}
	}
	return m.put(a), nil
}

func (m *memActions) Modify(_ context.Context, docid string, fn func(*entity.Action) (bool, error)) (entity.Action, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := m.revs[docid]
	if len(rs) == 0 || rs[len(rs)-1].Deleted {
		return entity.Action{}, notFound(docid)
	}
	a := rs[len(rs)-1]
	write, err := fn(&a)
	if err != nil || !write {
		return a, err
	}
	return m.put(a), nil
}

func (m *memActions) Delete(_ context.Context, docid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := m.revs[docid]
	if len(rs) == 0 || rs[len(rs)-1].Deleted {
		return nil
	}
	m.revs[docid] = append(rs, entity.Action{DocMeta: entity.DocMeta{ID: docid, Rev: fmt.Sprintf("%d-x", len(rs)+1), Deleted: true}})
	return nil
}

// okInvoker passes every update's test invocation.
type okInvoker struct{}

func (okInvoker) Invoke(context.Context, string, string, json.RawMessage) (json.RawMessage, error) {
	return json.RawMessage(`{}`), nil
}

// world is fnmgr's version and lifecycle controllers over in-memory
// stores: the real lifecycle code, no CouchDB.
type world struct {
	t    *testing.T
	ctx  context.Context
	reg  *registry.Store
	acts *memActions
	ver  *versions.Controller
	lc   *lifecycle.Controller
}

func newWorld(t *testing.T) *world {
	return newWorldOver(t, func(a *memActions) versions.Actions { return a })
}

// newWorldOver is newWorld whose versions write to OpenWhisk through
// over(w.acts), for tests that make those writes misbehave.
func newWorldOver(t *testing.T, over func(*memActions) versions.Actions) *world {
	st, err := storage.NewBucket(t.TempDir())
	require.NoError(t, err)
	w := &world{t: t, ctx: t.Context(), reg: registry.NewMemory(), acts: newMemActions()}
	w.ver = versions.New(versions.Options{Registry: w.reg, Storage: st, Actions: over(w.acts)})
	t.Cleanup(w.ver.Close)
	w.lc = lifecycle.New(lifecycle.Options{Registry: w.reg, Versions: w.ver, Invoker: okInvoker{}})
	return w
}

// write changes action name as a user would (wsk action update), and
// delivers the change as the whisks change feed would.
func (w *world) write(name, code string) {
	w.t.Helper()
	a := entity.Action{Namespace: "guest", Name: name, Exec: entity.Exec{Kind: "nodejs:20"},
		Limits: entity.Limits{Timeout: 60000, Memory: 256, Logs: 10, Concurrency: 1}}
	if cur, err := w.acts.Get(w.ctx, "guest/"+name); err == nil {
		a = cur
	}
	a, err := w.acts.Put(w.ctx, a, []byte(code))
	require.NoError(w.t, err)
	w.observe(a)
}

func (w *world) observe(a entity.Action) {
	w.t.Helper()
	doc, err := json.Marshal(a)
	require.NoError(w.t, err)
	require.NoError(w.t, w.ver.Observe(w.ctx, feed.Change{ID: a.ID, Rev: a.Rev, Doc: doc}))
}

// deleteOutside deletes action name as a user would (wsk action delete).
func (w *world) deleteOutside(name string) {
	w.t.Helper()
	require.NoError(w.t, w.acts.Delete(w.ctx, "guest/"+name))
	require.NoError(w.t, w.ver.Observe(w.ctx, feed.Change{ID: "guest/" + name, Deleted: true,
		Doc: json.RawMessage(`{"_id":"guest/` + name + `","_deleted":true}`)}))
}

func (w *world) state(name string) registry.State {
	w.t.Helper()
	f, err := w.reg.GetFunction(w.ctx, "guest", name)
	require.NoError(w.t, err)
	return f.State
}

// into brings a new function name into state s, and returns a func that
// ends what holds it there (an UPDATING function's update).
func (w *world) into(name string, s registry.State) (release func()) {
	w.t.Helper()
	w.write(name, "function main(){return {v:1}}")
	require.Equal(w.t, registry.Latest, w.state(name))
	release = func() {}
	var err error
	switch s {
	case registry.Published:
		_, err = w.ver.Publish(w.ctx, "guest", name, "", "t")
	case registry.Blocked:
		_, err = w.lc.Block(w.ctx, "guest", name, "incident", "t")
	case registry.Retired:
		_, err = w.lc.Retire(w.ctx, "guest", name, "old", "t", time.Hour)
	case registry.Updating:
		// An update holds the function's lock from start to end, so
		// another operation meets UPDATING only after fnmgr stopped in
		// the middle of one: the state and intent it recorded first are
		// what a crash leaves. Recover (at the next start) ends it.
		code := "function main(){return {v:2}}"
		req, _ := json.Marshal(api.UpdateRequest{Exec: &entity.ExecPut{Kind: "nodejs:20", Code: &code}})
		_, err = w.reg.Update(w.ctx, "guest", name, func(f *registry.Function) error {
			f.Transition = &registry.Transition{Op: "update", From: f.State, To: registry.Updating, By: "t", Started: time.Now().UTC(), Update: req}
			f.PrevState, f.State = f.State, registry.Updating
			return nil
		})
		release = func() {
			require.NoError(w.t, w.lc.Recover(w.ctx))
		}
	}
	require.NoError(w.t, err)
	require.Equal(w.t, s, w.state(name))
	return release
}

// TestOperationInEveryState is SPEC.md section 3 as a table: every
// operation (publish, update, block, unblock, retire, the action changed
// or deleted outside fnmgr) in every state, against the real version and
// lifecycle controllers over in-memory stores. Each cell names the state
// after the operation and the error kind (HTTP status) it gives.
func TestOperationInEveryState(t *testing.T) {
	type outcome struct {
		to   registry.State // the state right after the operation
		kind reqerr.Kind    // "" when it succeeds
	}
	ok := func(s registry.State) outcome { return outcome{to: s} }
	refused := func(s registry.State, k reqerr.Kind) outcome { return outcome{to: s, kind: k} }
	L, P, U, B, R := registry.Latest, registry.Published, registry.Updating, registry.Blocked, registry.Retired

	newCode := "function main(){return {v:3}}"
	ops := map[string]func(w *world, name string) error{
		"publish": func(w *world, name string) error {
			_, err := w.ver.Publish(w.ctx, "guest", name, "", "t")
			return err
		},
		"update": func(w *world, name string) error {
			_, err := w.lc.Update(w.ctx, "guest", name, api.UpdateRequest{Exec: &entity.ExecPut{Kind: "nodejs:20", Code: &newCode}}, "t")
			return err
		},
		"block": func(w *world, name string) error {
			_, err := w.lc.Block(w.ctx, "guest", name, "again", "t")
			return err
		},
		"unblock": func(w *world, name string) error {
			_, err := w.lc.Unblock(w.ctx, "guest", name, "t")
			return err
		},
		"retire": func(w *world, name string) error {
			_, err := w.lc.Retire(w.ctx, "guest", name, "again", "t", time.Hour)
			return err
		},
		"changed outside": func(w *world, name string) error {
			w.write(name, "function main(){return {outside:true}}")
			return nil
		},
	}
	// SPEC.md section 3, row by row. An update of a LATEST or PUBLISHED
	// function passes through UPDATING and ends LATEST.
	table := map[registry.State]map[string]outcome{
		L: {"publish": ok(P), "update": ok(L), "block": ok(B), "unblock": refused(L, reqerr.Conflict), "retire": ok(R), "changed outside": ok(L)},
		P: {"publish": ok(P), "update": ok(L), "block": ok(B), "unblock": refused(P, reqerr.Conflict), "retire": ok(R), "changed outside": ok(L)},
		U: {"publish": refused(U, reqerr.Locked), "update": refused(U, reqerr.Locked), "block": refused(U, reqerr.Locked),
			"unblock": refused(U, reqerr.Conflict), "retire": refused(U, reqerr.Locked), "changed outside": ok(U)},
		B: {"publish": ok(B), "update": refused(B, reqerr.Conflict), "block": ok(B), "unblock": ok(L), "retire": ok(R), "changed outside": ok(B)},
		R: {"publish": refused(R, reqerr.Gone), "update": refused(R, reqerr.Gone), "block": refused(R, reqerr.Gone),
			"unblock": refused(R, reqerr.Gone), "retire": ok(R), "changed outside": ok(R)},
	}
	for _, from := range []registry.State{L, P, U, B, R} {
		for _, op := range []string{"publish", "update", "block", "unblock", "retire", "changed outside"} {
			want := table[from][op]
			t.Run(fmt.Sprintf("%s/%s", from, op), func(t *testing.T) {
				w := newWorld(t)
				name := strings.ToLower(string(from)) + "-" + strings.ReplaceAll(op, " ", "-")
				release := w.into(name, from)
				revsBefore, err := w.reg.Revisions(w.ctx, "guest", name, 0, 0)
				require.NoError(t, err)
				err = ops[op](w, name)
				if want.kind == "" {
					require.NoError(t, err)
				} else {
					require.Error(t, err)
					require.Equal(t, want.kind, reqerr.KindOf(err), "%v", err)
				}
				require.Equal(t, want.to, w.state(name))
				if op == "changed outside" {
					revs, err := w.reg.Revisions(w.ctx, "guest", name, 0, 0)
					require.NoError(t, err)
					require.Len(t, revs, len(revsBefore)+1, "the outside change is recorded as a revision")
				}
				release()
				if from == U {
					f, err := w.reg.GetFunction(w.ctx, "guest", name)
					require.NoError(t, err)
					require.Nil(t, f.Transition, "the interrupted update is ended at restart")
					require.Equal(t, L, f.State, "and its outcome stands")
				}
			})
		}
	}
}

// TestDeletedOutsideInEveryState: an action deleted outside fnmgr retires
// its function from every state but UPDATING, whose function retires once
// the update ends (SPEC.md section 3, "action deleted outside").
func TestDeletedOutsideInEveryState(t *testing.T) {
	for _, from := range []registry.State{registry.Latest, registry.Published, registry.Blocked, registry.Retired} {
		t.Run(string(from), func(t *testing.T) {
			w := newWorld(t)
			name := "gone-" + strings.ToLower(string(from))
			w.into(name, from)()
			w.deleteOutside(name)
			require.Equal(t, registry.Retired, w.state(name))
		})
	}
}
