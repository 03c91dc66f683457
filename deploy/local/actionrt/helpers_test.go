package actionrt

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fnmgr/fnmgr/tests/logbuf"
)

// syncBuffer is a goroutine-safe log sink for the pool's slog output.
type syncBuffer = logbuf.Buffer

// testOptions gives each test its own cgroup name and scratch dir.
func testOptions(t *testing.T) (Options, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	return Options{
		CgroupName: fmt.Sprintf("fnmgr-test-%s-%d", name, time.Now().UnixNano()%1e6),
		WorkDir:    t.TempDir(),
		Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, logs
}

// newTestPool makes a pool that is closed (and checked to leave
// nothing behind) when the test ends.
func newTestPool(t *testing.T, o Options) *Pool {
	t.Helper()
	p, err := New(context.Background(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func run(t *testing.T, p *Pool, a Action, params string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var raw json.RawMessage
	if params != "" {
		raw = json.RawMessage(params)
	}
	res, err := p.Run(ctx, a, raw)
	if err != nil {
		t.Fatalf("Run(%s): %v", a.Key, err)
	}
	return res
}

func node(key, code string) Action {
	return Action{Key: key, Kind: "nodejs:20", Code: []byte(code), MemoryMB: 128, Timeout: 20 * time.Second}
}

func python(key, code string) Action {
	return Action{Key: key, Kind: "python:3", Code: []byte(code), MemoryMB: 128, Timeout: 20 * time.Second}
}

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		f, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// eventually polls cond until it holds, like require.Eventually.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func alive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// resultField decodes one field of a result object.
func resultField[T any](t *testing.T, res Result, field string) T {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(res.Result, &m); err != nil {
		t.Fatalf("result %s: %v", res.Result, err)
	}
	var v T
	if err := json.Unmarshal(m[field], &v); err != nil {
		t.Fatalf("result field %q of %s: %v", field, res.Result, err)
	}
	return v
}

func (p *Pool) snapshot() (workers, busy, usedMB, waiting int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for w := range p.workers {
		if w.busy {
			busy++
		}
	}
	return len(p.workers), busy, p.usedMB, p.waiting
}

func fmtSscan(s string, v *int) (int, error) { return fmt.Sscan(s, v) }

// workerPIDs lists the pids of started workers, busy or idle ones.
func (p *Pool) workerPIDs(busy bool) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pids []int
	for w := range p.workers {
		if pid := w.pid(); w.busy == busy && pid != 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}
