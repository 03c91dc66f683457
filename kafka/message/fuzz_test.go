package message_test

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/fnmgr/fnmgr/kafka/message"
	"github.com/fnmgr/fnmgr/tests/fuzzcheck"
)

// The fuzz targets below decode Kafka message values as fnmgr's listeners
// and the local stack do. Their seed corpora (testdata/fuzz/<FuzzName>/)
// hold the contract's samples, edge cases and what earlier fuzzing found;
// `go test` runs them as ordinary tests, `go test -fuzz FuzzX` explores.
//
// Besides fuzzcheck's properties (no panic, invalid JSON is an error,
// decode→encode→decode stable), message.Decode (the listeners' decoder)
// must accept whatever json.Unmarshal accepts and decode it to the same
// value, and refuse what json.Unmarshal refuses (data after the value
// included).

// decodeAgrees checks that message.Decode agrees with json.Unmarshal on
// input that json.Unmarshal accepted.
func decodeAgrees[T any](t *testing.T, data []byte, want T) {
	t.Helper()
	var got T
	if err := message.Decode(data, &got); err != nil {
		t.Fatalf("message.Decode refused what json.Unmarshal accepted: %v", err)
	}
	w, _ := json.Marshal(want)
	g, _ := json.Marshal(got)
	if string(w) != string(g) {
		t.Fatalf("message.Decode and json.Unmarshal disagree:\nunmarshal: %s\ndecode:    %s", w, g)
	}
}

// decodeRefuses checks that message.Decode refuses input json.Unmarshal
// refused.
func decodeRefuses[T any](t *testing.T, data []byte) {
	t.Helper()
	var v T
	if err := message.Decode(data, &v); err == nil {
		t.Fatalf("message.Decode accepted what json.Unmarshal refused: %q", data)
	}
}

// stable runs fuzzcheck's properties and checks message.Decode against
// json.Unmarshal either way.
func stable[T any](t *testing.T, data []byte) (T, bool) {
	t.Helper()
	v, ok := fuzzcheck.Stable[T](t, data, nil)
	if ok {
		decodeAgrees(t, data, v)
	} else {
		decodeRefuses[T](t, data)
	}
	return v, ok
}

func FuzzActivation(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if v, ok := stable[message.Activation](t, data); ok {
			_ = v.TransID.ID()
		}
	})
}

func FuzzAck(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		v, ok := stable[message.Ack](t, data)
		if !ok {
			return
		}
		switch v.Kind() {
		case message.AckCombined:
			if v.Instance == nil || v.Response == nil {
				t.Fatalf("combined ack without instance or response: %s", data)
			}
		case message.AckCompletion:
			if v.Instance == nil || v.Response != nil {
				t.Fatalf("completion ack misclassified: %s", data)
			}
		case message.AckResult:
			if v.Instance != nil {
				t.Fatalf("result ack with an instance: %s", data)
			}
		}
		if v.Response != nil && v.Response.Activation != nil && v.ID() != v.Response.Activation.ActivationID {
			t.Fatalf("ID() %q is not the response's activation id %q", v.ID(), v.Response.Activation.ActivationID)
		}
	})
}

func FuzzEvent(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		v, ok := stable[message.Event](t, data)
		if !ok {
			return
		}
		switch v.EventType {
		case message.EventActivation:
			if v.Activation == nil || v.Metric != nil {
				t.Fatalf("activation event without its typed body: %s", data)
			}
		case message.EventMetric:
			if v.Metric == nil || v.Activation != nil {
				t.Fatalf("metric event without its typed body: %s", data)
			}
		default:
			t.Fatalf("event of unknown type %q decoded without an error", v.EventType)
		}
	})
}

func FuzzPing(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		stable[message.Ping](t, data)
	})
}

func FuzzCacheInvalidation(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		stable[message.CacheInvalidation](t, data)
	})
}

// FuzzParseByteSize: a size parses to a non-negative byte count without
// overflowing (or is an error), and what FormatBytes writes parses back.
func FuzzParseByteSize(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		n, err := message.ParseByteSize(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "message: byte size") {
				t.Fatalf("error without the package's prefix: %v", err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("ParseByteSize(%q) = %d: negative (overflow?)", s, n)
		}
		if err := checkNoOverflow(s, n); err != nil {
			t.Fatal(err)
		}
		back, err := message.ParseByteSize(message.FormatBytes(n))
		if err != nil || back != n {
			t.Fatalf("FormatBytes(%d) = %q parses to %d, %v", n, message.FormatBytes(n), back, err)
		}
	})
}

// checkNoOverflow recomputes ParseByteSize's result for s exactly: a
// product past int64 must be an error, not a wrapped number.
func checkNoOverflow(s string, n int64) error {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return r < '0' || r > '9' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToUpper(strings.TrimSpace(t[i:]))
	}
	want, ok := new(big.Int).SetString(num, 10)
	if !ok {
		return fmt.Errorf("ParseByteSize(%q) = %d for a number Go cannot read", s, n)
	}
	shift := map[string]uint{"K": 10, "M": 20, "G": 30}[strings.TrimSuffix(unit, "B")]
	want.Lsh(want, shift)
	if !want.IsInt64() || want.Int64() != n {
		return fmt.Errorf("ParseByteSize(%q) = %d, want %s or an error", s, n, want)
	}
	return nil
}
