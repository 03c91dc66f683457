package invokers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fnmgr/fnmgr/kafka/consumer"
	"github.com/fnmgr/fnmgr/tests/contract"
)

func TestTracker(t *testing.T) {
	sample, err := os.ReadFile(filepath.Join(contract.Dir(t), "kafka-ping-message.json"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		msgs    []string
		wantMax int
		wantErr bool
	}{
		{"no ping uses the fallback", nil, 512, false},
		{"contract ping of 2048m", []string{string(sample)}, 2048, false},
		{"largest of two invokers", []string{
			`{"name":{"instance":0,"userMemory":"1024 MB","instanceType":"invoker","tags":[],"dedicatedNamespaces":[]},"isEnabled":true}`,
			`{"name":{"instance":1,"userMemory":"4294967296 B","instanceType":"invoker","tags":[],"dedicatedNamespaces":[]}}`,
		}, 4096, false},
		{"garbage is malformed", []string{"\x00\x01garbage"}, 512, true},
		{"bad size is malformed", []string{`{"name":{"instance":0,"userMemory":"lots"}}`}, 512, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := New(time.Second, 512)
			var gotErr error
			for _, m := range c.msgs {
				if err := tr.Handle(context.Background(), "health", []byte(m)); err != nil {
					gotErr = err
				}
			}
			if (gotErr != nil) != c.wantErr || (gotErr != nil && !errors.Is(gotErr, consumer.ErrMalformed)) {
				t.Fatalf("error = %v, want malformed=%v", gotErr, c.wantErr)
			}
			if got := tr.MaxMemoryMB(); got != c.wantMax {
				t.Fatalf("MaxMemoryMB = %d, want %d", got, c.wantMax)
			}
		})
	}
}

func TestLiveness(t *testing.T) {
	tr := New(5*time.Second, 0)
	now := time.Unix(1000, 0)
	tr.now = func() time.Time { return now }
	_ = tr.Handle(context.Background(), "health", []byte(`{"name":{"instance":0,"userMemory":"2048 MB"},"isEnabled":true}`))
	if inv := tr.Invokers(); len(inv) != 1 || !inv[0].Healthy {
		t.Fatalf("fresh invoker: %+v", inv)
	}
	now = now.Add(6 * time.Second)
	if inv := tr.Invokers(); inv[0].Healthy {
		t.Fatalf("silent invoker still healthy: %+v", inv)
	}
}
