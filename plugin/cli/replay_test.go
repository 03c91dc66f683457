package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const replayCurves = "../../optimizer/replay/testdata/curves"

// TestReplayJSON: SPEC.md section 7's command on the shared curves prints
// one JSON line per file and trial with the keys the spec names, needs no
// admin API, and gives the same answers for the same seed.
func TestReplayJSON(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(replayCurves, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	args := []string{"optimize", "replay", "--curves", replayCurves, "--objective", "cost", "--max-invocations", "15", "--trials", "3", "--seed", "5", "--json"}
	code, out, errOut := runCLI(t, "", nil, args...)
	require.Equal(t, ExitOK, code, errOut)
	ls := lines(out)
	require.Len(t, ls, 3*len(files), "one line per file and trial")
	seen := map[string]int{}
	for _, l := range ls {
		var v struct {
			File        string `json:"file"`
			Trial       *int   `json:"trial"`
			MemoryMB    int    `json:"memoryMB"`
			Invocations int    `json:"invocations"`
		}
		require.NoError(t, json.Unmarshal([]byte(l), &v), l)
		require.NotNil(t, v.Trial, l)
		require.Positive(t, v.MemoryMB, l)
		require.Positive(t, v.Invocations, l)
		require.LessOrEqual(t, v.Invocations, 15, l)
		seen[v.File]++
	}
	for _, f := range files {
		require.Equal(t, 3, seen[filepath.Base(f)], f)
	}
	_, again, _ := runCLI(t, "", nil, args...)
	require.Equal(t, out, again, "the same seed gives the same answers")
}

// TestReplayHuman: without --json, a table per file and the summary
// shares beside the two grids.
func TestReplayHuman(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(replayCurves, "sebs-aws-311-warm.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.json"), b, 0o600))
	code, out, errOut := runCLI(t, "", nil, "optimize", "replay", "--curves", dir, "--trials", "4")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, "a.json (311.compression (python)): best for cost 256 MB")
	require.Contains(t, out, "CHOSEN")
	require.Contains(t, out, "GRID 15")
	require.Contains(t, out, "GRID 60")
	require.Regexp(t, `(?m)^all\s+1\s+4\s+\d+%\s+[\d.]+\s+\d+%\s+\d+%\s*$`, out)
}

// TestReplayBadInput: bad flags and bad files are clear errors.
func TestReplayBadInput(t *testing.T) {
	empty := t.TempDir()
	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, "x.json"), []byte(`{"points":[{"memoryMB":128,"durations":[-1]}]}`), 0o600))
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no folder", []string{}, ExitUsage, "needs --curves DIR"},
		{"unknown objective", []string{"--curves", empty, "--objective", "speed"}, ExitUsage, "--objective"},
		{"zero trials", []string{"--curves", empty, "--trials", "0"}, ExitUsage, "--trials"},
		{"no curve files", []string{"--curves", empty}, ExitError, "no *.json curve files"},
		{"a negative duration", []string{"--curves", bad}, ExitError, "x.json: 128 MB has a duration that is not positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, "", nil, append([]string{"optimize", "replay"}, tc.args...)...)
			require.Equal(t, tc.code, code, errOut)
			require.True(t, strings.Contains(errOut, tc.want), errOut)
		})
	}
}
