package couch_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fnmgr/fnmgr/couch"
)

func TestSeq(t *testing.T) {
	cases := []struct {
		name    string
		raw     string
		want    couch.Seq
		wantErr bool
	}{
		{"CouchDB 3 opaque string", `"12-g1AAAAFzeJzLYWBgYMpgTmHgzcvPy09JdcjLz8gvLskBCScyJNX___8_K4M5kSEXKMBuZpRiYZJmjK4ehxF5LECSoQFI_YeblMgGNsnU2DQxKc0YXVcWALjEIbI"`, "12-g1AAAAFzeJzLYWBgYMpgTmHgzcvPy09JdcjLz8gvLskBCScyJNX___8_K4M5kSEXKMBuZpRiYZJmjK4ehxF5LECSoQFI_YeblMgGNsnU2DQxKc0YXVcWALjEIbI", false},
		{"pouchdb integer", `42`, "42", false},
		{"zero", `0`, "0", false},
		{"large integer keeps its digits", `123456789012345678901234567890`, "123456789012345678901234567890", false},
		{"surrounding space", " \"7-abc\"\n", "7-abc", false},
		{"string with escapes", `"1-a\u002fb"`, "1-a/b", false},
		{"null", `null`, "", false},
		{"array (CouchDB 1.x clustered)", `[1,"a"]`, "", true},
		{"object", `{}`, "", true},
		{"bool", `true`, "", true},
		{"broken string", `"abc`, "", true},
		{"broken number", `1.2.3`, "", true},
		{"empty", ``, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := couch.ParseSeq(json.RawMessage(tc.raw))
			if tc.wantErr {
				require.Error(t, err)
				require.ErrorContains(t, err, "couch: sequence")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.want == "", got.IsZero())

			// It round-trips through JSON as a string.
			b, err := json.Marshal(got)
			require.NoError(t, err)
			var back couch.Seq
			require.NoError(t, json.Unmarshal(b, &back))
			require.Equal(t, got, back)
		})
	}
}

func TestSeqInChangesResponse(t *testing.T) {
	cases := []struct {
		name     string
		body     string
		wantSeqs []couch.Seq
		wantLast couch.Seq
	}{
		{"pouchdb-server", `{"results":[{"id":"a","seq":1},{"id":"b","seq":2}],"last_seq":2}`, []couch.Seq{"1", "2"}, "2"},
		{"CouchDB 3", `{"results":[{"id":"a","seq":"1-g1AA"},{"id":"b","seq":"2-g1AB"}],"last_seq":"2-g1AB","pending":0}`, []couch.Seq{"1-g1AA", "2-g1AB"}, "2-g1AB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var resp struct {
				Results []struct {
					Seq couch.Seq `json:"seq"`
				} `json:"results"`
				LastSeq couch.Seq `json:"last_seq"`
			}
			require.NoError(t, json.Unmarshal([]byte(tc.body), &resp))
			var seqs []couch.Seq
			for _, r := range resp.Results {
				seqs = append(seqs, r.Seq)
			}
			require.Equal(t, tc.wantSeqs, seqs)
			require.Equal(t, tc.wantLast, resp.LastSeq)
		})
	}
}
