package message_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fnmgr/fnmgr/kafka/message"
	"github.com/fnmgr/fnmgr/tests/contract"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

var sampleTypes = map[string]func() any{
	"kafka-activation-message.json":                        func() any { return &message.Activation{} },
	"kafka-cache-invalidation.json":                        func() any { return &message.CacheInvalidation{} },
	"kafka-combined-completion-result-message-shrunk.json": func() any { return &message.Ack{} },
	"kafka-combined-completion-result-message.json":        func() any { return &message.Ack{} },
	"kafka-completion-message.json":                        func() any { return &message.Ack{} },
	"kafka-container-creation-message.json":                func() any { return &message.ContainerCreation{} },
	"kafka-event-activation-error.json":                    func() any { return &message.Event{} },
	"kafka-event-activation.json":                          func() any { return &message.Event{} },
	"kafka-event-metric.json":                              func() any { return &message.Event{} },
	"kafka-ping-message.json":                              func() any { return &message.Ping{} },
	"kafka-result-message.json":                            func() any { return &message.Ack{} },
}

func TestContractSamplesRoundTrip(t *testing.T) {
	contract.RoundTrip(t, sampleTypes, "kafka-")
}

func TestAckKind(t *testing.T) {
	cases := []struct {
		sample string
		want   message.AckKind
		id     string
	}{
		{"kafka-result-message.json", message.AckResult, "be97c2fed5dc43d097c2fed5dc73d085"},
		{"kafka-completion-message.json", message.AckCompletion, "be97c2fed5dc43d097c2fed5dc73d085"},
		{"kafka-combined-completion-result-message.json", message.AckCombined, "be97c2fed5dc43d097c2fed5dc73d085"},
		{"kafka-combined-completion-result-message-shrunk.json", message.AckCombined, "be97c2fed5dc43d097c2fed5dc73d085"},
	}
	for _, c := range cases {
		t.Run(c.sample, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(contract.Dir(t), c.sample))
			if err != nil {
				t.Fatal(err)
			}
			var a message.Ack
			if err := message.Decode(raw, &a); err != nil {
				t.Fatal(err)
			}
			if a.Kind() != c.want || a.ID() != c.id {
				t.Fatalf("kind %v id %s, want %v %s", a.Kind(), a.ID(), c.want, c.id)
			}
		})
	}
}

func TestParseByteSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		err  bool
	}{
		{"2147483648 B", 2147483648, false},
		{"2048 MB", 2048 << 20, false},
		{"2048m", 2048 << 20, false},
		{"1 G", 1 << 30, false},
		{"1 KB", 1024, false},
		{"12", 12, false},
		{"", 0, true},
		{"12 TB", 0, true},
		{"MB", 0, true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := message.ParseByteSize(c.in)
			if (err != nil) != c.err || got != c.want {
				t.Fatalf("ParseByteSize(%q) = %d, %v", c.in, got, err)
			}
		})
	}
}

func TestEventRejectsUnknownType(t *testing.T) {
	var e message.Event
	if err := json.Unmarshal([]byte(`{"eventType":"Bogus","body":{}}`), &e); err == nil {
		t.Fatal("unknown event type accepted")
	}
}

// TestDecodeOneValue: a message value is exactly one JSON value; what
// follows it, other than whitespace, is refused (ErrTrailingData), as
// json.Unmarshal refuses it.
func TestDecodeOneValue(t *testing.T) {
	cases := []struct {
		name     string
		in       string
		trailing bool // want ErrTrailingData
		err      bool // want another error
	}{
		{"one value", `{"key":{"mainId":"guest/a"},"instanceId":"c0"}`, false, false},
		{"whitespace around", " \n\t{\"key\":{\"mainId\":\"guest/a\"}}\r\n ", false, false},
		{"garbage after", `{"key":{"mainId":"guest/a"}} garbage`, true, false},
		{"garbage right after", `{"key":{"mainId":"guest/a"}}x`, true, false},
		{"a second value", `{"key":{"mainId":"guest/a"}}{"key":{"mainId":"guest/b"}}`, true, false},
		{"a number after", `{"key":{"mainId":"guest/a"}} 2`, true, false},
		{"a stray brace", `{"key":{"mainId":"guest/a"}}}`, true, false},
		{"a stray bracket", `{"key":{"mainId":"guest/a"}}]`, true, false},
		{"a NUL after", "{\"key\":{\"mainId\":\"guest/a\"}}\x00", true, false},
		{"empty", ``, false, true},
		{"truncated", `{"key":{"mainId":"guest/a"}`, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v message.CacheInvalidation
			err := message.Decode([]byte(c.in), &v)
			if got := errors.Is(err, message.ErrTrailingData); got != c.trailing {
				t.Fatalf("Decode(%q) = %v, want ErrTrailingData %v", c.in, err, c.trailing)
			}
			if (err != nil) != (c.trailing || c.err) {
				t.Fatalf("Decode(%q) = %v, want an error %v", c.in, err, c.trailing || c.err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "message: decode *message.CacheInvalidation: ") {
				t.Fatalf("error %q does not say what it decoded", err)
			}
			if uerr := json.Unmarshal([]byte(c.in), new(message.CacheInvalidation)); (uerr != nil) != (err != nil) {
				t.Fatalf("Decode says %v, json.Unmarshal says %v", err, uerr)
			}
		})
	}
}

// TestContractSamplesDecode: every Kafka sample of the OpenWhisk contract
// (TestContractSamplesRoundTrip checks each has a type here) decodes with
// Decode, the listeners' decoder, to what json.Unmarshal makes of it.
func TestContractSamplesDecode(t *testing.T) {
	dir := contract.Dir(t)
	for name, mk := range sampleTypes {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			got, want := mk(), mk()
			if err := message.Decode(raw, got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if err := json.Unmarshal(raw, want); err != nil {
				t.Fatal(err)
			}
			if g, w := string(testkit.MustJSON(t, got)), string(testkit.MustJSON(t, want)); g != w {
				t.Fatalf("Decode and json.Unmarshal disagree:\ndecode:    %s\nunmarshal: %s", g, w)
			}
		})
	}
}
