package admin

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLogsCarryNoCredentials sends every kind of credential, good and bad,
// and checks the log: one line per request with the route template, never
// the token, the key or the Authorization header.
func TestLogsCarryNoCredentials(t *testing.T) {
	a := newTestAPI(t, nil)
	secrets := []string{testToken, guestKey, "wrong-token-0123456789", "wrongkey"}
	auths := []string{
		bearer(testToken),
		bearer("wrong-token-0123456789"),
		basic(guestUUID, guestKey),
		basic(guestUUID, "wrongkey"),
		basic("broken", guestKey),
	}
	for _, auth := range auths {
		a.do(t, "GET", "/v1/namespaces/guest/functions/hello", auth, nil)
	}
	logs := a.logs.String()
	for _, s := range secrets {
		require.NotContains(t, logs, s)
		require.NotContains(t, logs, base64.StdEncoding.EncodeToString([]byte(guestUUID+":"+s)))
	}
	require.NotContains(t, strings.ToLower(logs), "authorization")

	var requests int
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		if rec["msg"] != "request" {
			continue
		}
		requests++
		require.Equal(t, "admin", rec["component"])
		require.Equal(t, "GET", rec["method"])
		require.Equal(t, "/v1/namespaces/{ns}/functions/{fn}", rec["route"])
		require.NotEmpty(t, rec["request_id"])
		require.Contains(t, rec, "status")
		require.Contains(t, rec, "duration")
	}
	require.Equal(t, len(auths), requests)
}
