package analyzer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fnmgr/fnmgr/kafka/consumer"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/tests/contract"
)

func TestHandle(t *testing.T) {
	dir := contract.Dir(t)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	states := map[string]registry.State{"guest/hello": registry.Blocked}
	a := New(func(ns, name string) (registry.State, bool) { s, ok := states[ns+"/"+name]; return s, ok }, prometheus.NewRegistry())
	cases := []struct {
		name      string
		msg       []byte
		malformed bool
	}{
		{"activation", read("kafka-event-activation.json"), false},
		{"activation error", read("kafka-event-activation-error.json"), false},
		{"metric", read("kafka-event-metric.json"), false},
		{"garbage", []byte{0xff, 0x00, 'x'}, true},
		{"unknown type", []byte(`{"eventType":"Nope","body":{}}`), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := a.Handle(context.Background(), "events", c.msg)
			if c.malformed != errors.Is(err, consumer.ErrMalformed) || (!c.malformed && err != nil) {
				t.Fatalf("Handle = %v, malformed want %v", err, c.malformed)
			}
		})
	}
	s, ok := a.Stats("guest/hello")
	if !ok || s.Activations != 1 || s.ColdStarts != 1 || s.ByMemory[0].MemoryMB != 256 || s.ByMemory[0].MedianMs != 309 {
		t.Fatalf("stats of guest/hello = %+v", s)
	}
	if s, _ := a.Stats("guest/demo/hello"); s.Errors != 1 {
		t.Fatalf("stats of guest/demo/hello = %+v", s)
	}
	if v := testutil.ToFloat64(a.violations); v != 1 {
		t.Fatalf("a successful activation of a BLOCKED function is a violation: got %v", v)
	}
}

func TestMedianAndSampling(t *testing.T) {
	a := New(nil, nil)
	for i := range 2000 {
		body := fmt.Sprintf(`{"source":"invoker0","body":{"name":"guest/f","activationId":"%032d","statusCode":0,"duration":%d,"waitTime":0,"initTime":0,"kind":"nodejs:20","conductor":false,"memory":128},"subject":"guest","namespace":"guest","userId":"u","eventType":"Activation","timestamp":1}`, i, 100+i%3)
		if err := a.Handle(context.Background(), "events", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := a.Stats("guest/f")
	if s.Activations != 2000 || s.ByMemory[0].MedianMs != 101 {
		t.Fatalf("stats %+v", s)
	}
}

func TestDuplicatesCountedOnce(t *testing.T) {
	a := New(nil, nil)
	ev := `{"source":"invoker0","body":{"name":"guest/d","activationId":"aaaa","statusCode":0,"duration":5,"waitTime":0,"initTime":0,"kind":"nodejs:20","conductor":false,"memory":128},"subject":"guest","namespace":"guest","userId":"u","eventType":"Activation","timestamp":1}`
	for range 3 {
		if err := a.Handle(context.Background(), "events", []byte(ev)); err != nil {
			t.Fatal(err)
		}
	}
	if s, _ := a.Stats("guest/d"); s.Activations != 1 {
		t.Fatalf("a redelivered event was counted %d times", s.Activations)
	}
}
