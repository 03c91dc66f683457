// Package contract locates the OpenWhisk wire contract (the samples taken
// from OpenWhisk's source) for tests, and compares JSON documents.
package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// Dir returns the contract folder: $FNMGR_CONTRACT_DIR, or the copy kept
// in this repository (tests/contract/testdata/openwhisk, taken from the
// project's shared openwhisk-contract folder; its README.md names the
// OpenWhisk sources each sample was read from). It fails the test when
// the folder is missing: the samples are the contract.
func Dir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("FNMGR_CONTRACT_DIR"); d != "" {
		return d
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("contract: %v", err)
	}
	d := filepath.Join(root, "tests", "contract", "testdata", "openwhisk")
	if _, err := os.Stat(d); err != nil {
		t.Fatalf("contract: samples not found at %s (set FNMGR_CONTRACT_DIR): %v", d, err)
	}
	return d
}

// RepoRoot walks up from the working directory to the folder with go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("contract: getwd: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("contract: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Samples returns the sample files whose names start with prefix, sorted.
func Samples(t testing.TB, prefix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(Dir(t), prefix+"*.json"))
	if err != nil || len(m) == 0 {
		t.Fatalf("contract: no %s* samples (%v)", prefix, err)
	}
	sort.Strings(m)
	return m
}

// Equal reports the first difference between two JSON documents, compared
// as values (key order ignored, numbers compared exactly), or "" when equal.
func Equal(want, got []byte) string {
	var w, g any
	if err := unmarshal(want, &w); err != nil {
		return "want: " + err.Error()
	}
	if err := unmarshal(got, &g); err != nil {
		return "got: " + err.Error()
	}
	return diff("$", w, g)
}

func unmarshal(b []byte, v any) error {
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	return d.Decode(v)
}

func diff(path string, w, g any) string {
	switch wv := w.(type) {
	case map[string]any:
		gv, ok := g.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want object, got %T", path, g)
		}
		keys := make([]string, 0, len(wv)+len(gv))
		for k := range wv {
			keys = append(keys, k)
		}
		for k := range gv {
			if _, ok := wv[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			a, aok := wv[k]
			b, bok := gv[k]
			switch {
			case !aok:
				return fmt.Sprintf("%s.%s: unexpected field", path, k)
			case !bok:
				return fmt.Sprintf("%s.%s: field lost", path, k)
			}
			if d := diff(path+"."+k, a, b); d != "" {
				return d
			}
		}
		return ""
	case []any:
		gv, ok := g.([]any)
		if !ok || len(gv) != len(wv) {
			return fmt.Sprintf("%s: want array of %d, got %v", path, len(wv), g)
		}
		for i := range wv {
			if d := diff(fmt.Sprintf("%s[%d]", path, i), wv[i], gv[i]); d != "" {
				return d
			}
		}
		return ""
	default:
		if !reflect.DeepEqual(w, g) {
			return fmt.Sprintf("%s: want %v, got %v", path, w, g)
		}
		return ""
	}
}

// RoundTrip decodes every sample whose name starts with one of prefixes
// into the type types names for it, encodes it back, and fails the test
// on a sample with no type or on any field lost or changed.
func RoundTrip(t *testing.T, types map[string]func() any, prefixes ...string) {
	t.Helper()
	for _, prefix := range prefixes {
		for _, path := range Samples(t, prefix) {
			name := filepath.Base(path)
			t.Run(name, func(t *testing.T) {
				mk, ok := types[name]
				if !ok {
					t.Fatalf("no Go type decodes the contract sample %s: add one", name)
				}
				raw, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				v := mk()
				if err := json.Unmarshal(raw, v); err != nil {
					t.Fatalf("decode: %v", err)
				}
				out, err := json.Marshal(v)
				if err != nil {
					t.Fatalf("encode: %v", err)
				}
				if d := Equal(raw, out); d != "" {
					t.Fatalf("round trip changed the sample: %s\nencoded: %s", d, out)
				}
			})
		}
	}
}
