package security

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/tests/stackenv"
)

// revokeWithin is how soon after an operator deletes, blocks or rotates a
// key the admin API refuses it and fnmgr stops invoking with it: the key
// cache's expiry plus one lookup, well inside the 30 s a revocation may
// take.
const revokeWithin = keyCacheTTL + 3*time.Second

var memory atomic.Int32

// updateWithTest runs `fnmgr update` on ns/name with a test invocation,
// as the admin, changing the memory limit each time so there is an update
// to make. It returns the status and the answer.
func updateWithTest(t *testing.T, e *stackenv.Env, ns, name string) (int, string) {
	t.Helper()
	mb := 128 + 64*(memory.Add(1)%4)
	status, b := e.AdminRaw(t, stackenv.AsAdmin, "POST", stackenv.FnPath(ns, name)+"/update",
		map[string]any{"limits": map[string]any{"memory": mb}, "test": map[string]any{}})
	return status, string(b)
}

// newNamespace adds a subject owning a fresh namespace and an action f in
// it that fnmgr has recorded; it returns the subject's key.
func newNamespace(t *testing.T, e *stackenv.Env, ns string) string {
	t.Helper()
	cred := e.NewSubject(t, ns)
	stackenv.CreateAction(t, e.Wsk(t, e.EP.APIHost, cred), "f", "nodejs:default", "function main(){ return {ok: true} }", false)
	e.WaitFn(t, ns, "f", 15*time.Second, func(f stackenv.Function) bool { return f.Head.Revision >= 1 })
	require.Equal(t, http.StatusOK, e.Admin(t, cred, "GET", stackenv.FnPath(ns, "f"), nil, nil))
	status, b := updateWithTest(t, e, ns, "f")
	require.Equal(t, http.StatusOK, status, "the update's test invocation runs with the namespace's key: %s", b)
	return cred
}

// TestRevokedSubjectKeys: after an operator deletes a subject or blocks it
// (`wskadmin user block` sets "blocked": true), its key gets 401 from the
// admin API and fnmgr stops invoking as that namespace (update test
// invocations, probes: the same keys) within revokeWithin.
func TestRevokedSubjectKeys(t *testing.T) {
	e := stackenv.Need(t, env)
	subjects := e.DB(t, "subjects")
	for _, tc := range []struct {
		name   string
		revoke func(ctx context.Context, ns string) error
	}{
		{"blocked", func(ctx context.Context, ns string) error {
			var s entity.Subject
			if err := subjects.Get(ctx, ns).ScanDoc(&s); err != nil {
				return err
			}
			s.Blocked = true
			_, err := subjects.Put(ctx, ns, s)
			return err
		}},
		{"deleted", func(ctx context.Context, ns string) error {
			var s entity.Subject
			if err := subjects.Get(ctx, ns).ScanDoc(&s); err != nil {
				return err
			}
			_, err := subjects.Delete(ctx, ns, s.Rev)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := fmt.Sprintf("revoked-%s-%d", tc.name, time.Now().UnixNano())
			cred := newNamespace(t, e, ns)
			require.NoError(t, tc.revoke(context.Background(), ns))
			revoked := time.Now()

			require.Eventually(t, func() bool {
				return e.Admin(t, cred, "GET", stackenv.FnPath(ns, "f"), nil, nil) == http.StatusUnauthorized
			}, revokeWithin, 100*time.Millisecond, "the admin API still takes the %s subject's key", tc.name)
			var last string
			require.Eventually(t, func() bool {
				status, b := updateWithTest(t, e, ns, "f")
				last = fmt.Sprintf("%d %s", status, b)
				// fnmgr's own refusal, not the controller's 401: fnmgr no
				// longer has a key for the namespace.
				return status != http.StatusOK && strings.Contains(b, "no subject owns this namespace")
			}, revokeWithin-time.Since(revoked)+time.Second, 200*time.Millisecond, "fnmgr still invokes as the %s subject; last: %s", tc.name, last)
			t.Logf("%s: refused everywhere %v after the change", tc.name, time.Since(revoked).Round(10*time.Millisecond))
		})
	}
}

// TestRotatedSubjectKey: after an operator changes a namespace's key, the
// old key gets 401 from the admin API within revokeWithin, the new one
// works, and fnmgr invokes with the new one as soon as the controller
// refuses the old.
func TestRotatedSubjectKey(t *testing.T) {
	e := stackenv.Need(t, env)
	subjects := e.DB(t, "subjects")
	ns := fmt.Sprintf("rotated-%d", time.Now().UnixNano())
	old := newNamespace(t, e, ns)
	ctx := context.Background()
	var s entity.Subject
	require.NoError(t, subjects.Get(ctx, ns).ScanDoc(&s))
	s.Namespaces[0].Key = strings.Repeat("ab", 32)
	_, err := subjects.Put(ctx, ns, s)
	require.NoError(t, err)
	fresh := s.Namespaces[0].UUID + ":" + s.Namespaces[0].Key

	require.Eventually(t, func() bool {
		return e.Admin(t, old, "GET", stackenv.FnPath(ns, "f"), nil, nil) == http.StatusUnauthorized
	}, revokeWithin, 100*time.Millisecond, "the admin API still takes the rotated key")
	require.Equal(t, http.StatusOK, e.Admin(t, fresh, "GET", stackenv.FnPath(ns, "f"), nil, nil), "the new key works")
	// The controller keeps identities for its own expiry (10 s); once it
	// refuses the old key, fnmgr must be using the new one.
	require.Eventually(t, func() bool {
		status, _ := e.Call(t, old, "GET", e.EP.APIHost, "/api/v1/namespaces/_/actions/f", nil)
		return status == http.StatusUnauthorized
	}, 30*time.Second, 200*time.Millisecond, "the controller still takes the rotated key")
	status, b := updateWithTest(t, e, ns, "f")
	require.Equal(t, http.StatusOK, status, "fnmgr invokes with the rotated key: %s", b)
}
