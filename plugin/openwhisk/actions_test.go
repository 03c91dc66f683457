package openwhisk

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
)

const whisksDB = "whisk_local_whisks"

// fakeInvalidator records the cache invalidations Actions publishes (what
// OpenWhisk's controllers read from the cacheInvalidation topic).
type fakeInvalidator struct {
	mu   sync.Mutex
	ids  []string
	fail error
}

func (f *fakeInvalidator) Invalidate(_ context.Context, docid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.ids = append(f.ids, docid)
	return nil
}

func (f *fakeInvalidator) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ids...)
}

func newActions(t *testing.T) (*fakeCouch, *fakeInvalidator, *Actions) {
	t.Helper()
	f, client := newFakeCouch(t)
	inv := &fakeInvalidator{}
	return f, inv, NewActions(whiskdb.New(client.DB(whisksDB)), inv)
}

func nodeAction(ns, name string) entity.Action {
	return entity.Action{Namespace: ns, Name: name, Version: "0.0.1", Limits: entity.DefaultLimits(),
		Exec: entity.Exec{Kind: "nodejs:20", Binary: false}}
}

// TestPutStoresCodeAsOpenWhiskAndInvalidates: every write fnmgr makes
// (stubs, heads, versions) is stored as OpenWhisk's CouchDbRestStore would
// (small code inside a "mem:" name with its digest, large code in a
// "couch:" attachment) and is followed by one cache invalidation of that
// document, so that no controller keeps running the old code.
func TestPutStoresCodeAsOpenWhiskAndInvalidates(t *testing.T) {
	small := []byte("function main(){ return {v: 1} }")
	large := bytes.Repeat([]byte("// padding\n"), entity.MaxInlineSize/10)
	cases := []struct {
		name       string
		action     entity.Action
		code       []byte
		wantPrefix string
	}{
		{"small code inside the name", nodeAction("guest", "small"), small, entity.MemPrefix},
		{"large code in an attachment", nodeAction("guest", "large"), large, entity.CouchPrefix},
		{"packaged action", nodeAction("guest/pkg", "inpkg"), small, entity.MemPrefix},
		{"sequence without code", entity.Action{Namespace: "guest", Name: "seq", Exec: entity.Exec{Kind: "sequence", Components: []string{"/guest/small"}}}, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, inv, a := newActions(t)
			ctx := context.Background()
			out, err := a.Put(ctx, c.action, c.code)
			if err != nil {
				t.Fatal(err)
			}
			id := c.action.FQN()
			if out.ID != id || out.Rev == "" {
				t.Fatalf("Put returned id %q rev %q", out.ID, out.Rev)
			}
			if got := inv.sent(); len(got) != 1 || got[0] != id {
				t.Fatalf("invalidations %v, want exactly [%s]", got, id)
			}
			stored := f.doc(whisksDB, id)
			if stored == nil || stored["entityType"] != entity.TypeAction {
				t.Fatalf("stored document %v", stored)
			}
			got, err := a.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got.Rev != out.Rev {
				t.Fatalf("latest revision %s, Put said %s", got.Rev, out.Rev)
			}
			code, err := a.Code(ctx, got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(code, c.code) {
				t.Fatalf("code read back (%d bytes) differs from the code written (%d bytes)", len(code), len(c.code))
			}
			if c.wantPrefix == "" {
				if got.Exec.Code != nil {
					t.Fatalf("a sequence got code %+v", got.Exec.Code)
				}
				return
			}
			ref := got.Exec.Code.Ref
			if ref == nil || !strings.HasPrefix(ref.AttachmentName, c.wantPrefix) {
				t.Fatalf("code stored as %+v, want a %s attachment", got.Exec.Code, c.wantPrefix)
			}
			if c.wantPrefix == entity.MemPrefix && ref.Digest != entity.Digest(c.code) {
				t.Fatalf("digest %q, want %q", ref.Digest, entity.Digest(c.code))
			}
		})
	}
}

// TestPutOverwritesTheLatestRevision: a write without a revision replaces
// whatever the document holds now (fnmgr owns the documents it writes so),
// and one with a stale revision is a conflict that changes nothing.
func TestPutOverwritesTheLatestRevision(t *testing.T) {
	_, inv, a := newActions(t)
	ctx := context.Background()
	first, err := a.Put(ctx, nodeAction("guest", "f"), []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := a.Put(ctx, nodeAction("guest", "f"), []byte("v2"))
	if err != nil {
		t.Fatalf("overwrite without a revision: %v", err)
	}
	stale := nodeAction("guest", "f")
	stale.Rev = first.Rev
	if _, err := a.Put(ctx, stale, []byte("v3")); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale revision: %v, want ErrConflict", err)
	}
	got, _ := a.Get(ctx, "guest/f")
	code, _ := a.Code(ctx, got)
	if got.Rev != second.Rev || string(code) != "v2" {
		t.Fatalf("after a refused write: rev %s code %q, want %s v2", got.Rev, code, second.Rev)
	}
	if n := len(inv.sent()); n != 2 {
		t.Fatalf("%d invalidations, want one per successful write (2)", n)
	}
}

// TestInvalidationFailureIsAnError: a write whose invalidation cannot be
// published is reported (the controllers may run the old code), not
// swallowed.
func TestInvalidationFailureIsAnError(t *testing.T) {
	_, inv, a := newActions(t)
	inv.fail = errors.New("kafka: broker down")
	ctx := context.Background()
	for _, op := range []struct {
		name string
		do   func() error
	}{
		{"put", func() error { _, err := a.Put(ctx, nodeAction("guest", "f"), []byte("x")); return err }},
		{"modify", func() error {
			_, err := a.Modify(ctx, "guest/f", func(act *entity.Action) (bool, error) { act.Limits.Memory = 512; return true, nil })
			return err
		}},
		{"delete", func() error { return a.Delete(ctx, "guest/f") }},
	} {
		if err := op.do(); err == nil || !strings.Contains(err.Error(), "broker down") || !strings.Contains(err.Error(), "invalidate guest/f") {
			t.Fatalf("%s: err = %v, want the invalidation's failure", op.name, err)
		}
	}
}

func TestModify(t *testing.T) {
	cases := []struct {
		name          string
		conflicts     int
		write         bool
		fnErr         error
		wantErr       bool
		wantMemory    int
		invalidations int
	}{
		{"writes and invalidates", 0, true, nil, false, 512, 1},
		{"retries conflicts", 3, true, nil, false, 512, 1},
		{"nothing to write", 0, false, nil, false, 256, 0},
		{"fn fails: nothing written", 0, true, errors.New("refused"), true, 256, 0},
		{"gives up after many conflicts", 50, true, nil, true, 256, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, inv, a := newActions(t)
			ctx := context.Background()
			if _, err := a.Put(ctx, nodeAction("guest", "f"), []byte("code")); err != nil {
				t.Fatal(err)
			}
			before := len(inv.sent())
			f.mu.Lock()
			f.conflicts = c.conflicts
			f.mu.Unlock()
			calls := 0
			_, err := a.Modify(ctx, "guest/f", func(act *entity.Action) (bool, error) {
				calls++
				act.Limits.Memory = 512
				return c.write, c.fnErr
			})
			if (err != nil) != c.wantErr {
				t.Fatalf("Modify: %v, want error %v", err, c.wantErr)
			}
			if c.conflicts > 0 && !c.wantErr && calls != c.conflicts+1 {
				t.Fatalf("fn applied %d times for %d conflicts; it must re-read and re-apply", calls, c.conflicts)
			}
			f.mu.Lock()
			f.conflicts = 0
			f.mu.Unlock()
			got, _ := a.Get(ctx, "guest/f")
			if got.Limits.Memory != c.wantMemory {
				t.Fatalf("memory %d, want %d", got.Limits.Memory, c.wantMemory)
			}
			if code, _ := a.Code(ctx, got); string(code) != "code" {
				t.Fatalf("Modify changed the code: %q", code)
			}
			if n := len(inv.sent()) - before; n != c.invalidations {
				t.Fatalf("%d invalidations, want %d", n, c.invalidations)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	f, inv, a := newActions(t)
	ctx := context.Background()
	if _, err := a.Put(ctx, nodeAction("guest", "f"), []byte("code")); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, "guest/f"); err != nil {
		t.Fatal(err)
	}
	if f.doc(whisksDB, "guest/f") != nil {
		t.Fatal("the document is still there")
	}
	if _, err := a.Get(ctx, "guest/f"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	if got := inv.sent(); len(got) != 2 || got[1] != "guest/f" {
		t.Fatalf("invalidations %v: the delete must invalidate", got)
	}
	if err := a.Delete(ctx, "guest/f"); err != nil {
		t.Fatalf("deleting what is gone: %v", err)
	}
}

// TestGetRefusesOtherEntities: a trigger, rule or package under the same
// id is not an action.
func TestGetRefusesOtherEntities(t *testing.T) {
	f, _, a := newActions(t)
	f.setDoc(t, whisksDB, "guest/t", map[string]any{"entityType": "trigger", "namespace": "guest", "name": "t"})
	if _, err := a.Get(context.Background(), "guest/t"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a trigger: %v, want ErrNotFound", err)
	}
}
