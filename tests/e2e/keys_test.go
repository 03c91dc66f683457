package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/deploy/local/stack"
)

// TestDeletedKeyRefusedWithin30s runs with fnmgr's real key expiry (the
// default --key-cache-ttl): a subject deleted right after its key was
// used (and cached) is refused by the admin API, and fnmgr stops
// invoking as its namespace, within 30 s of the deletion. (A held-out run
// saw 30.2 s when the expiry itself was 30 s.)
func TestDeletedKeyRefusedWithin30s(t *testing.T) {
	need(t)
	ctx := context.Background()
	subjects := couchClient(t).DB(stack.DBPrefix + "subjects")
	var b [4]byte
	_, _ = rand.Read(b[:])
	ns := "expiry-" + hex.EncodeToString(b[:])
	cred := env.NewSubject(t, ns)

	c := env.Wsk(t, env.EP.APIHost, cred)
	code := "function main(){ return {ok: true} }"
	_, _, err := c.Actions.Insert(&whisk.Action{Name: "f", Namespace: "_", Exec: &whisk.Exec{Kind: "nodejs:default", Code: &code}}, false)
	require.NoError(t, err)
	path := "/v1/namespaces/" + ns + "/functions/f"
	require.Eventually(t, func() bool { return adminAs(t, cred, "GET", path, nil, nil) == http.StatusOK },
		15*time.Second, 50*time.Millisecond, "fnmgr did not record %s/f", ns)
	update := func() (int, string) {
		var e entity.Error
		status := adminAs(t, "admin", "POST", path+"/update", map[string]any{"limits": map[string]any{"memory": 256}, "test": map[string]any{}}, &e)
		return status, e.Error
	}
	status, msg := update()
	require.Equal(t, http.StatusOK, status, "the update's test invocation runs as %s: %s", ns, msg)

	var s entity.Subject
	require.NoError(t, subjects.Get(ctx, ns).ScanDoc(&s))
	_, err = subjects.Delete(ctx, ns, s.Rev)
	require.NoError(t, err)
	deleted := time.Now()

	var adminRefused, invokeRefused time.Duration
	within := assert.Eventually(t, func() bool {
		if adminRefused == 0 && adminAs(t, cred, "GET", path, nil, nil) == http.StatusUnauthorized {
			adminRefused = time.Since(deleted)
		}
		if invokeRefused == 0 {
			if status, msg := update(); status != http.StatusOK && strings.Contains(msg, "no subject owns") {
				invokeRefused = time.Since(deleted)
			}
		}
		return adminRefused > 0 && invokeRefused > 0
	}, 30*time.Second, 250*time.Millisecond)
	if !within {
		t.Fatalf("not within 30 s: admin API 401 after %v, fnmgr stopped invoking after %v (0: not yet)", adminRefused, invokeRefused)
	}
	t.Logf("deleted subject: admin API 401 after %v, fnmgr stopped invoking after %v",
		adminRefused.Round(10*time.Millisecond), invokeRefused.Round(10*time.Millisecond))
}
