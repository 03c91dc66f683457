package message_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/fnmgr/fnmgr/kafka/message"
	"github.com/fnmgr/fnmgr/tests/contract"
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
