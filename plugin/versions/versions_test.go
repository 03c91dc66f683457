package versions_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/versions"
	"github.com/fnmgr/fnmgr/tests/couchtest"
	"github.com/fnmgr/fnmgr/tests/fnenv"
)

func TestMain(m *testing.M) { couchtest.Main(m) }

type env struct{ *fnenv.Env }

func newEnv(t *testing.T, backend string) *env { return &env{fnenv.New(t, backend, 5)} }

func (e *env) put(name, code string, memory int) entity.Action {
	return e.Put(name, "nodejs:20", code, memory, nil)
}

func (e *env) revisions(name string) []registry.Revision {
	e.T.Helper()
	rs, err := e.Reg.Revisions(e.Ctx, "guest", name, 0, 0)
	require.NoError(e.T, err)
	return rs
}

func (e *env) waitRevisions(name string, n int) []registry.Revision {
	e.WaitRevisions(name, n)
	return e.revisions(name)
}

func (e *env) code(docid string) string { return e.Code(docid) }

func TestRevisionsPublishAliasesRollback(t *testing.T) {
	for _, backend := range []string{"couch", "bucket"} {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			ctx := e.Ctx
			e.put("hello", "function main(){return {v:1}}", 256)
			e.put("hello", "function main(){return {v:2}}", 256)
			e.put("hello", "function main(){return {v:2}}", 512)
			rs := e.waitRevisions("hello", 3)
			require.Len(t, rs, 3)
			require.Equal(t, 3, rs[0].Revision, "newest first")
			require.Equal(t, 512, rs[0].Snapshot.Limits.Memory)

			p1, err := e.Ctl.Publish(ctx, "guest", "hello", "first", "test")
			require.NoError(t, err)
			require.True(t, p1.Created)
			require.Equal(t, 1, p1.Version.Version)
			require.Equal(t, "function main(){return {v:2}}", e.code("guest/hello@1"))

			again, err := e.Ctl.Publish(ctx, "guest", "hello", "", "test")
			require.NoError(t, err)
			require.False(t, again.Created, "publishing an unchanged head returns the newest version")
			require.Equal(t, 1, again.Version.Version)

			f, err := e.Reg.GetFunction(ctx, "guest", "hello")
			require.NoError(t, err)
			require.Equal(t, registry.Published, f.State)

			e.put("hello", "function main(){return {v:3}}", 512)
			e.waitRevisions("hello", 4)
			require.Equal(t, "function main(){return {v:2}}", e.code("guest/hello@1"), "version 1 is immutable")
			p2, err := e.Ctl.Publish(ctx, "guest", "hello", "", "test")
			require.NoError(t, err)
			require.Equal(t, 2, p2.Version.Version)

			// A change to hello@1 made outside fnmgr is reverted.
			e.put("hello@1", "function main(){return {hacked:true}}", 256)
			require.Eventually(t, func() bool { return e.code("guest/hello@1") == "function main(){return {v:2}}" },
				5*time.Second, 10*time.Millisecond)

			// Aliases: name@alias runs the first route's version; moving it changes the code.
			_, err = e.Ctl.SetAlias(ctx, "guest", "hello", "prod", []registry.Route{{Version: 1, Weight: 100}})
			require.NoError(t, err)
			require.Equal(t, "function main(){return {v:2}}", e.code("guest/hello@prod"))
			_, err = e.Ctl.SetAlias(ctx, "guest", "hello", "prod", []registry.Route{{Version: 2, Weight: 90}, {Version: 1, Weight: 10}})
			require.NoError(t, err)
			require.Equal(t, "function main(){return {v:3}}", e.code("guest/hello@prod"))
			err = e.Ctl.RetireVersion(ctx, "guest", "hello", 1)
			require.ErrorIs(t, err, registry.ErrConflict, "a version an alias routes to cannot be retired")

			// Rollback: head gets version 1's code and limits back.
			_, err = e.Ctl.Rollback(ctx, "guest", "hello", 1)
			require.NoError(t, err)
			require.Equal(t, "function main(){return {v:2}}", e.code("guest/hello"))
			require.Eventually(t, func() bool {
				f, err := e.Reg.GetFunction(ctx, "guest", "hello")
				return err == nil && f.State == registry.Published && f.Head.Digest == p1.Version.Digest
			}, 5*time.Second, 10*time.Millisecond)
			a, err := e.Whisks.GetAction(ctx, "guest/hello", "")
			require.NoError(t, err)
			v, _ := a.Annotations.String(versions.AnnotationState)
			require.Equal(t, "PUBLISHED", v, "wsk action get shows the state")

			// Every version's code is byte-identical in the Storage Handler.
			for _, p := range []versions.Published{p1, p2} {
				b, err := e.Store.Get(ctx, p.Version.Snapshot.Exec.CodeDigest)
				require.NoError(t, err)
				require.Equal(t, p.Version.Snapshot.Exec.CodeDigest, entity.Digest(b))
			}
		})
	}
}

func TestLargeCodeIsOneRevision(t *testing.T) {
	e := newEnv(t, "couch")
	big := "function main(){return {}}\n//" + strings.Repeat("x", 40*1024)
	a := e.put("big", big, 256)
	require.True(t, strings.HasPrefix(a.Exec.Code.Ref.AttachmentName, entity.CouchPrefix))
	e.put("big", big+"y", 256)
	rs := e.waitRevisions("big", 2)
	require.Len(t, rs, 2)
	got, err := e.Store.Get(e.Ctx, rs[0].Snapshot.Exec.CodeDigest)
	require.NoError(t, err)
	require.Equal(t, big+"y", string(got))
}

func TestReplayIsIdempotentAndRetentionBounded(t *testing.T) {
	e := newEnv(t, "couch")
	for i := range 8 {
		e.put("r", fmt.Sprintf("function main(){return {i:%d}}", i), 256)
		e.waitRevisions("r", min(i+1, 5))
	}
	require.Eventually(t, func() bool {
		f, err := e.Reg.GetFunction(e.Ctx, "guest", "r")
		return err == nil && f.Revisions == 8
	}, 5*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return len(e.revisions("r")) == 5 }, 5*time.Second, 10*time.Millisecond,
		"retention keeps the newest 5")

	// Replay the whole feed from the beginning: nothing changes.
	e.Stop()
	require.NoError(t, e.Reg.Checkpoint("whisks").Save(e.Ctx, ""))
	e.Follow()
	// The follower has handed every change over again once it caught up.
	require.Eventually(t, e.CaughtUp, 10*time.Second, 10*time.Millisecond, "the replay reaches the feed's end")
	f, err := e.Reg.GetFunction(e.Ctx, "guest", "r")
	require.NoError(t, err)
	require.Equal(t, 8, f.Revisions, "a replayed change is not a new revision")
}

func TestDeletedOutsideRetires(t *testing.T) {
	e := newEnv(t, "couch")
	a := e.put("gone", "function main(){}", 256)
	e.waitRevisions("gone", 1)
	require.Eventually(t, func() bool {
		cur, err := e.Whisks.GetAction(e.Ctx, "guest/gone", "")
		return err == nil && cur.Annotations.Bool("exec") == false && cur.Rev != a.Rev
	}, 5*time.Second, 10*time.Millisecond, "fnmgr annotates the state")
	cur, err := e.Whisks.GetAction(e.Ctx, "guest/gone", "")
	require.NoError(t, err)
	require.NoError(t, e.Whisks.DeleteDoc(e.Ctx, "guest/gone", cur.Rev))
	require.Eventually(t, func() bool {
		f, err := e.Reg.GetFunction(e.Ctx, "guest", "gone")
		return err == nil && f.State == registry.Retired && f.Gone
	}, 5*time.Second, 10*time.Millisecond)
	_, err = e.Ctl.Publish(e.Ctx, "guest", "gone", "", "test")
	require.True(t, errors.Is(err, registry.ErrGone), "publish of a retired function: %v", err)
}

// TestEveryExecForm: code is read wherever OpenWhisk keeps it — a mem:
// name, a couch: attachment, base64 zip code, a packaged action, a
// blackbox image, a sequence — and each becomes a revision.
func TestEveryExecForm(t *testing.T) {
	e := newEnv(t, "couch")
	ctx := e.Ctx
	zip := "UEsDBBQAAAAIAAAAIQAAAAAAAAAAAAAAAAAIAAAAaW5kZXguanM=" // base64: a zip's bytes
	put := func(a entity.Action, code []byte, ct string) {
		t.Helper()
		_, err := e.Whisks.PutAction(ctx, a, code, ct)
		require.NoError(t, err)
	}
	zipBytes, _, err := entity.StoredCode(zip, true)
	require.NoError(t, err)
	base := func(ns, name, kind string) entity.Action {
		return entity.Action{Namespace: ns, Name: name, Version: "0.0.1", Exec: entity.Exec{Kind: kind}, Limits: entity.DefaultLimits(),
			Annotations: entity.KeyValues{}.With("exec", kind)}
	}
	zipped := base("guest", "zipped", "nodejs:20")
	zipped.Exec.Binary = true
	put(zipped, zipBytes, entity.BinaryContentType)
	put(base("guest/demo", "inpkg", "python:3"), []byte("def main(a):\n    return {}\n"), entity.TextContentType)
	bb := base("guest", "boxed", "blackbox")
	bb.Exec.Image = "openwhisk/example:latest"
	put(bb, nil, "")
	seq := base("guest", "chain", "sequence")
	seq.Exec.Components = []string{"/guest/zipped", "/guest/demo/inpkg"}
	seq.Parameters = entity.KeyValues{}.With("_actions", seq.Exec.Components)
	put(seq, nil, "")

	for _, name := range []string{"zipped", "demo/inpkg", "boxed", "chain"} {
		e.WaitRevisions(name, 1)
	}
	rs := e.revisions("zipped")
	got, err := e.Store.Get(ctx, rs[0].Snapshot.Exec.CodeDigest)
	require.NoError(t, err)
	require.Equal(t, zipBytes, got, "binary code is kept as its bytes")
	require.True(t, rs[0].Snapshot.Exec.Binary)
	require.Equal(t, "openwhisk/example:latest", e.revisions("boxed")[0].Snapshot.Exec.Image)
	require.Equal(t, []string{"/guest/zipped", "/guest/demo/inpkg"}, e.revisions("chain")[0].Snapshot.Exec.Components)
	p, err := e.Ctl.Publish(ctx, "guest", "demo/inpkg", "", "t")
	require.NoError(t, err)
	require.Equal(t, "def main(a):\n    return {}\n", e.code("guest/demo/inpkg@1"), "a packaged function's versions live in its package")
	require.Equal(t, 1, p.Version.Version)
}

// TestOwnAnnotationWriteCostsNoRegistryWrite: fnmgr's state annotation
// comes back through the feed as a new revision of the action; it records
// nothing and writes nothing, and the user's next update is the next
// revision, read from the feed without a hole.
func TestOwnAnnotationWriteCostsNoRegistryWrite(t *testing.T) {
	e := newEnv(t, "couch")
	e.put("echo", "function main(){return {v:1}}", 256)
	e.waitRevisions("echo", 1)
	require.Eventually(t, func() bool {
		a, err := e.Whisks.GetAction(e.Ctx, "guest/echo", "")
		_, ok := a.Annotations.Get(versions.AnnotationState)
		return err == nil && ok
	}, 10*time.Second, 10*time.Millisecond, "fnmgr annotates the action")
	cur, err := e.Whisks.GetAction(e.Ctx, "guest/echo", "")
	require.NoError(t, err)
	cur.Exec.Code = nil
	out, err := e.Whisks.PutAction(e.Ctx, cur, []byte("function main(){return {v:2}}"), entity.TextContentType)
	require.NoError(t, err)
	rs := e.waitRevisions("echo", 2)
	require.Equal(t, out.Rev, rs[0].OWRev, "revision 2 is the user's update")
	var raw struct {
		Rev string `json:"_rev"`
	}
	require.NoError(t, e.Reg.DB().Get(e.Ctx, registry.FunctionID("guest", "echo")).ScanDoc(&raw))
	require.True(t, strings.HasPrefix(raw.Rev, "2-"),
		"the function document was written twice, once per revision, not for the echo: %s", raw.Rev)
	f, err := e.Reg.GetFunction(e.Ctx, "guest", "echo")
	require.NoError(t, err)
	require.Equal(t, 2, f.Revisions)
	require.Equal(t, out.Rev, f.Head.OWRev)
}
