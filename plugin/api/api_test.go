package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// TestSnapshotDigestIsStable: a snapshot's digest is sha256 over exactly
// this encoding. The registry stores digests and compares an action's new
// snapshot with its head by digest, so a change to Snapshot's fields, their
// order or their names would make every function look changed.
func TestSnapshotDigestIsStable(t *testing.T) {
	s := Snapshot{
		Exec: ExecSnapshot{Kind: "nodejs:20", Main: "main", Binary: false, CodeDigest: "sha256-ab", CodeSize: 12,
			ContentType: "text/plain; charset=utf-8"},
		Limits:      entity.Limits{Timeout: 60000, Memory: 256, Logs: 10, Concurrency: 1},
		Parameters:  entity.KeyValues{{Key: "name", Value: json.RawMessage(`"world"`)}},
		Annotations: entity.KeyValues{},
	}
	const encoded = `{"exec":{"kind":"nodejs:20","main":"main","binary":false,"codeDigest":"sha256-ab","codeSize":12,` +
		`"contentType":"text/plain; charset=utf-8"},"limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1},` +
		`"parameters":[{"key":"name","value":"world"}],"annotations":[]}`
	sum := sha256.Sum256([]byte(encoded))
	require.Equal(t, "sha256-"+hex.EncodeToString(sum[:]), s.Digest())
}

func TestStates(t *testing.T) {
	for _, tc := range []struct {
		state           State
		valid, runnable bool
	}{
		{Latest, true, true},
		{Published, true, true},
		{Blocked, true, false},
		{Updating, true, false},
		{Retired, true, false},
		{"latest", false, false},
		{"", false, false},
	} {
		t.Run(string(tc.state), func(t *testing.T) {
			require.Equal(t, tc.valid, tc.state.Valid())
			require.Equal(t, tc.runnable, tc.state.Runnable())
		})
	}
}
