// Package fuzzcheck holds the properties fnmgr's fuzz tests check on the
// decoders of what crosses its boundaries (Kafka messages, CouchDB
// documents, admin API bodies), so that every fuzz target states them the
// same way:
//
//   - a decoder never panics (the fuzzer reports a panic as a failure);
//   - input that is not valid JSON is an error, never a value;
//   - what decodes, encodes; its encoding decodes again; and a second
//     round encodes to the same bytes (decode→encode→decode is stable).
package fuzzcheck

import (
	"bytes"
	"encoding/json"
	"testing"
)

// Stable checks the properties above for one input and decoder of T
// (json.Unmarshal when decode is nil), and returns the decoded value and
// whether it decoded.
func Stable[T any](t *testing.T, data []byte, decode func([]byte, *T) error) (T, bool) {
	t.Helper()
	if decode == nil {
		decode = func(b []byte, v *T) error { return json.Unmarshal(b, v) }
	}
	var v T
	if err := decode(data, &v); err != nil {
		if err.Error() == "" {
			t.Fatalf("decode failed with an empty error message")
		}
		return v, false
	}
	if !json.Valid(data) {
		t.Fatalf("decode accepted input that is not valid JSON: %q", data)
	}
	first, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode of a decoded %T: %v", v, err)
	}
	var again T
	if err := decode(first, &again); err != nil {
		t.Fatalf("decode of its own encoding: %v\nencoding: %s", err, first)
	}
	second, err := json.Marshal(again)
	if err != nil {
		t.Fatalf("second encode: %v", err)
	}
	if !bytes.Equal(first, second) {
		t.Fatalf("decode→encode→decode is not stable:\nfirst:  %s\nsecond: %s", first, second)
	}
	return v, true
}
