package deployment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rootInfo is a controller's GET / as OpenWhisk answers it, trimmed from
// the contract sample rest-root-info.json (min_action_memory given).
func rootInfo(minMemory int64) string {
	return fmt.Sprintf(`{"description":"OpenWhisk","api_paths":["/api/v1"],
 "limits":{"min_action_memory":%d,"max_action_memory":536870912,"min_action_duration":100,"max_action_duration":300000},
 "runtimes":{
  "python":[{"kind":"python:3.11","image":"openwhisk/action-python-v3.11:nightly","default":false},
            {"kind":"python:3.10","image":"openwhisk/action-python-v3.10:nightly","default":true}],
  "nodejs":[{"kind":"nodejs:20","image":"openwhisk/action-nodejs-v20:nightly","default":true},
            {"kind":"nodejs:18","image":"openwhisk/action-nodejs-v18:nightly","default":false}],
  "blackbox":[{"kind":"blackbox","image":"openwhisk/dockerskeleton:nightly"}]}}`, minMemory)
}

// rootServer serves GET / with the reply reply() gives, counting calls.
type rootServer struct {
	calls atomic.Int32
	reply atomic.Pointer[func(w http.ResponseWriter)]
	url   string
}

func newRootServer(t *testing.T, reply func(w http.ResponseWriter)) *rootServer {
	t.Helper()
	c := &rootServer{}
	c.reply.Store(&reply)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" || r.Method != http.MethodGet || r.Header.Get("Authorization") != "" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
			return
		}
		c.calls.Add(1)
		(*c.reply.Load())(w)
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

func serve(body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) { _, _ = io.WriteString(w, body) }
}

func TestKindsAndMinMemory(t *testing.T) {
	cases := []struct {
		name      string
		minMemory int64
		wantMin   int
	}{
		{"OpenWhisk's default 128 MB", 128 << 20, 128},
		{"a larger minimum", 256 << 20, 256},
		{"below 64 MB is raised to 64", 32 << 20, 64},
		{"none given", 0, 64},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctl := newRootServer(t, serve(rootInfo(c.minMemory)))
			info := New(Options{ControllerURL: ctl.url})
			ctx := context.Background()
			got, err := info.MinMemoryMB(ctx)
			if err != nil || got != c.wantMin {
				t.Fatalf("MinMemoryMB = %d, %v; want %d", got, err, c.wantMin)
			}
			kinds, err := info.Kinds(ctx)
			want := []string{"blackbox", "nodejs:18", "nodejs:20", "python:3.10", "python:3.11"}
			if err != nil || !reflect.DeepEqual(kinds, want) {
				t.Fatalf("Kinds = %v, %v; want %v", kinds, err, want)
			}
		})
	}
}

// TestRootIsCachedForRefresh: the controller is asked once per Refresh,
// and an error is not remembered: the next call asks again.
func TestRootIsCachedForRefresh(t *testing.T) {
	ctl := newRootServer(t, serve(rootInfo(128<<20)))
	ctx := context.Background()
	cached := New(Options{ControllerURL: ctl.url, Refresh: time.Hour})
	for range 5 {
		if _, err := cached.Kinds(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := cached.MinMemoryMB(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := ctl.calls.Load(); n != 1 {
		t.Fatalf("%d GET / within the refresh period, want 1", n)
	}

	fresh := New(Options{ControllerURL: ctl.url, Refresh: time.Nanosecond})
	before := ctl.calls.Load()
	for range 3 {
		if _, err := fresh.Root(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := ctl.calls.Load() - before; n != 3 {
		t.Fatalf("%d GET / for 3 calls past the refresh period, want 3", n)
	}
}

func TestRootErrors(t *testing.T) {
	cases := []struct {
		name    string
		reply   func(w http.ResponseWriter)
		wantErr string
	}{
		{"controller error", func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }, "503 Service Unavailable"},
		{"not JSON", serve("<html>gateway</html>"), "decode controller info"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctl := newRootServer(t, c.reply)
			info := New(Options{ControllerURL: ctl.url, Refresh: time.Hour})
			ctx := context.Background()
			if _, err := info.Kinds(ctx); err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("Kinds: %v, want an error saying %q", err, c.wantErr)
			}
			if _, err := info.MinMemoryMB(ctx); err == nil {
				t.Fatal("MinMemoryMB: no error")
			}
			// The controller recovers: the error was not cached.
			ok := serve(rootInfo(256 << 20))
			ctl.reply.Store(&ok)
			if got, err := info.MinMemoryMB(ctx); err != nil || got != 256 {
				t.Fatalf("after recovery: MinMemoryMB = %d, %v", got, err)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		_, err := New(Options{ControllerURL: url}).Root(context.Background())
		if err == nil || !strings.Contains(err.Error(), "read the controller's limits") {
			t.Fatalf("Root: %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctl := newRootServer(t, serve(rootInfo(128<<20)))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := New(Options{ControllerURL: ctl.url}).Root(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Root with a cancelled context: %v", err)
		}
	})
}

func TestMaxMemoryAndGPUs(t *testing.T) {
	cases := []struct {
		name     string
		o        Options
		wantMem  int
		wantGPUs int
	}{
		{"from health pings", Options{Memory: pings(2048)}, 2048, 8},
		{"configured wins over pings", Options{Memory: pings(2048), MaxMemoryMB: 1024}, 1024, 8},
		{"configured without pings", Options{MaxMemoryMB: 512}, 512, 8},
		{"no pings yet", Options{Memory: pings(0)}, 0, 8},
		{"nothing known", Options{}, 0, 8},
		{"MAX_GPU_NUM set", Options{MaxGPUNum: 2}, 0, 2},
		{"negative MAX_GPU_NUM is the default", Options{MaxGPUNum: -1}, 0, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			info := New(c.o)
			if got := info.MaxMemoryMB(); got != c.wantMem {
				t.Fatalf("MaxMemoryMB = %d, want %d", got, c.wantMem)
			}
			if got := info.MaxGPUNum(); got != c.wantGPUs {
				t.Fatalf("MaxGPUNum = %d, want %d", got, c.wantGPUs)
			}
		})
	}
}
