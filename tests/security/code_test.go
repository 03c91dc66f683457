package security

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/tests/stackenv"
)

// TestCodeOutsideCouchDBIsNotSkipped: an action whose code OpenWhisk keeps
// in an S3 attachment store ("s3:<uuid>", as S3AttachmentStore names it)
// is read through the controller; where that fails (the local controller
// has no S3 store either) the function shows as untracked in the admin
// API, with why, and is counted, never skipped in silence. Its next
// readable change is recorded and clears the mark.
func TestCodeOutsideCouchDBIsNotSkipped(t *testing.T) {
	e := stackenv.Need(t, env)
	whisks := e.DB(t, "whisks")
	ctx := context.Background()
	const name = "in-s3"
	code := []byte("function main(){ return {from: 's3'} }")
	n := int64(len(code))
	doc := entity.Action{DocMeta: entity.DocMeta{ID: "guest/" + name}, EntityType: entity.TypeAction,
		Namespace: "guest", Name: name, Version: "0.0.1", Limits: entity.DefaultLimits(),
		Exec: entity.Exec{Kind: "nodejs:default", Code: &entity.Code{Ref: &entity.CodeRef{
			AttachmentName: "s3:5c0ffee0-1b2c-4d5e-8f90-a1b2c3d4e5f6", AttachmentType: entity.TextContentType,
			Length: &n, Digest: entity.Digest(code)}}}}
	before := e.Metric(t, "fnmgr_versions_events_total", "event=untracked")
	rev, err := whisks.Put(ctx, doc.ID, doc)
	require.NoError(t, err)

	var f struct {
		stackenv.Function
		Untracked string `json:"untracked"`
	}
	require.Eventually(t, func() bool {
		return e.Admin(t, stackenv.AsAdmin, "GET", stackenv.FnPath("guest", name), nil, &f) == http.StatusOK && f.Untracked != ""
	}, 15*time.Second, 100*time.Millisecond, "the function is not shown as untracked")
	require.Contains(t, f.Untracked, "outside CouchDB")
	require.Contains(t, f.Untracked, `"s3"`)
	require.Zero(t, f.Head.Revision, "nothing was recorded")
	require.Greater(t, e.Metric(t, "fnmgr_versions_events_total", "event=untracked"), before)

	// The list shows it too.
	status, b := e.AdminRaw(t, stackenv.AsAdmin, "GET", "/v1/namespaces/guest/functions?limit=200", nil)
	require.Equal(t, http.StatusOK, status)
	var list []map[string]any
	require.NoError(t, json.Unmarshal(b, &list))
	found := false
	for _, fn := range list {
		if fn["name"] == name {
			found = strings.Contains(fn["untracked"].(string), "outside CouchDB")
		}
	}
	require.True(t, found, "the list does not show %s as untracked", name)

	// Nothing recorded to stub or restore from: a block is refused and
	// changes nothing.
	status, b = e.AdminRaw(t, stackenv.AsAdmin, "POST", stackenv.FnPath("guest", name)+"/block", map[string]any{"reason": "x"})
	require.Equal(t, http.StatusConflict, status, "%s", b)
	require.Contains(t, string(b), "cannot read its code")
	require.Equal(t, http.StatusOK, e.Admin(t, stackenv.AsAdmin, "GET", stackenv.FnPath("guest", name), nil, &f))
	require.Equal(t, "LATEST", f.State)

	// A readable change (code inside the document again) is recorded.
	doc.Rev = rev
	doc.Exec.Code = &entity.Code{Ref: &entity.CodeRef{AttachmentName: entity.MemName(code),
		AttachmentType: entity.TextContentType, Length: &n, Digest: entity.Digest(code)}}
	_, err = whisks.Put(ctx, doc.ID, doc)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		f.Untracked = ""
		return e.Admin(t, stackenv.AsAdmin, "GET", stackenv.FnPath("guest", name), nil, &f) == http.StatusOK &&
			f.Untracked == "" && f.Head.Revision == 1
	}, 15*time.Second, 100*time.Millisecond, "the readable revision was not recorded")
}

// TestUnreadableCodeOfABlockedFunctionNeverRuns: code written outside
// CouchDB onto a BLOCKED function cannot be recorded, but the stub goes
// back all the same: what may not run does not, whatever fnmgr can read.
func TestUnreadableCodeOfABlockedFunctionNeverRuns(t *testing.T) {
	e := stackenv.Need(t, env)
	c := e.Wsk(t, e.EP.APIHost, e.EP.Auth)
	const name = "blocked-s3"
	stackenv.CreateAction(t, c, name, "nodejs:default", "function main(){ return {v: 1} }", true)
	e.WaitFn(t, "guest", name, 15*time.Second, func(f stackenv.Function) bool { return f.Head.Revision >= 1 })
	status, b := e.AdminRaw(t, stackenv.AsAdmin, "POST", stackenv.FnPath("guest", name)+"/block", map[string]any{"reason": "s3 test"})
	require.Equal(t, http.StatusOK, status, "%s", b)

	whisks := e.DB(t, "whisks")
	ctx := context.Background()
	var doc entity.Action
	require.NoError(t, whisks.Get(ctx, "guest/"+name).ScanDoc(&doc))
	code := []byte("function main(){ return {escaped: true} }")
	n := int64(len(code))
	doc.Exec.Code = &entity.Code{Ref: &entity.CodeRef{AttachmentName: "az:0badc0de-1b2c-4d5e-8f90-a1b2c3d4e5f6",
		AttachmentType: entity.TextContentType, Length: &n, Digest: entity.Digest(code)}}
	_, err := whisks.Put(ctx, doc.ID, doc)
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		var now entity.Action
		if err := whisks.Get(ctx, "guest/"+name).ScanDoc(&now); err != nil || now.Exec.Code == nil || now.Exec.Code.Ref == nil {
			return false
		}
		return !strings.HasPrefix(now.Exec.Code.Ref.AttachmentName, "az:")
	}, 15*time.Second, 100*time.Millisecond, "the unreadable code stays on a BLOCKED function")
	var f struct {
		stackenv.Function
		Untracked string `json:"untracked"`
	}
	require.Equal(t, http.StatusOK, e.Admin(t, stackenv.AsAdmin, "GET", stackenv.FnPath("guest", name), nil, &f))
	require.Equal(t, "BLOCKED", f.State)
	require.NotEmpty(t, f.Untracked, "the change that could not be recorded is shown")
}
