// Command gatewaylat measures the latency fnmgr's gateway adds to action
// invocations against the real local stack (`make bench-stack`): one warm
// nodejs action is invoked (blocking, result only) directly at the API host
// and through the gateway, interleaved, by -concurrency workers at once,
// and the p50 and p99 of both paths and of their difference are printed.
//
// Without -endpoints it starts the local stack in this process (on free
// loopback ports, in a temporary directory, with bin/fnmgr beside this
// executable unless -fnmgr-bin says otherwise) and stops it at the end.
// With -endpoints it uses a running stack (`make run`'s
// .local/endpoints.json). Every address is on 127.0.0.1; the run is bounded
// by -duration and -max-calls.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/fnmgr/fnmgr/deploy/local/stack"
)

// options are the command's flags.
type options struct {
	endpoints   string
	fnmgrBin    string
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	maxCalls    int
	userMemory  int
}

func main() {
	os.Exit(run())
}

func run() int {
	var o options
	flag.StringVar(&o.endpoints, "endpoints", "", "endpoints.json of a running local stack; empty starts one in this process")
	flag.StringVar(&o.fnmgrBin, "fnmgr-bin", "", "fnmgr executable for the stack this command starts (default: fnmgr beside this executable)")
	flag.IntVar(&o.concurrency, "concurrency", 200, "requests in flight at once, both paths together")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "how long to measure (after the warm-up)")
	flag.DurationVar(&o.warmup, "warmup", 5*time.Second, "load before measuring, not counted")
	flag.IntVar(&o.maxCalls, "max-calls", 100000, "the most calls measured (both paths)")
	flag.IntVar(&o.userMemory, "user-memory", 0, "the started stack's invoker user memory in MB (0: the invoker's default)")
	flag.Parse()
	if o.concurrency < 2 || o.duration <= 0 || o.maxCalls < 2 {
		fmt.Fprintln(os.Stderr, "gatewaylat: -concurrency and -max-calls must be at least 2 and -duration positive")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := measure(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "gatewaylat:", err)
		return 1
	}
	return 0
}

func measure(ctx context.Context, o options) error {
	eps, stopStack, err := endpoints(ctx, o)
	if err != nil {
		return err
	}
	defer stopStack()
	for _, u := range []string{eps.APIHost, eps.Gateway} {
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			return fmt.Errorf("%s is not on the loopback address; this command measures a local stack only", u)
		}
	}
	l := newLoad(eps, o.concurrency)
	if err := l.prepare(ctx); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "gatewaylat: warming up for %s at %d concurrent requests\n", o.warmup, o.concurrency)
	if _, err := l.run(ctx, o.warmup, o.maxCalls); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	fmt.Fprintf(os.Stderr, "gatewaylat: measuring for %s\n", o.duration)
	res, err := l.run(ctx, o.duration, o.maxCalls)
	if err != nil {
		return err
	}
	report(os.Stdout, o, res)
	return nil
}

// endpoints reads o.endpoints, or starts a stack; the func stops what was
// started.
func endpoints(ctx context.Context, o options) (stack.Endpoints, func(), error) {
	if o.endpoints != "" {
		b, err := os.ReadFile(o.endpoints)
		if err != nil {
			return stack.Endpoints{}, nil, err
		}
		var e stack.Endpoints
		if err := json.Unmarshal(b, &e); err != nil {
			return stack.Endpoints{}, nil, fmt.Errorf("parse %s: %w", o.endpoints, err)
		}
		if e.APIHost == "" || e.Gateway == "" || e.Auth == "" {
			return stack.Endpoints{}, nil, fmt.Errorf("%s lacks apihost, gateway or auth", o.endpoints)
		}
		return e, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "gatewaylat-")
	if err != nil {
		return stack.Endpoints{}, nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "stack.log"))
	if err != nil {
		return stack.Endpoints{}, nil, err
	}
	st, err := stack.New(stack.Options{Dir: filepath.Join(dir, "local"), FnmgrBin: o.fnmgrBin,
		UserMemoryMB: o.userMemory, Console: logf, Logger: slog.New(slog.NewTextHandler(logf, nil))})
	if err != nil {
		logf.Close()
		return stack.Endpoints{}, nil, err
	}
	fmt.Fprintf(os.Stderr, "gatewaylat: starting the local stack in %s\n", dir)
	if err := st.Start(ctx); err != nil {
		logf.Close()
		return stack.Endpoints{}, nil, fmt.Errorf("start the local stack (log in %s): %w", logf.Name(), err)
	}
	stop := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := st.Stop(sctx); err != nil {
			fmt.Fprintln(os.Stderr, "gatewaylat: stop the local stack:", err)
		}
		logf.Close()
		_ = os.RemoveAll(dir)
	}
	return st.Endpoints(), stop, nil
}

// machine describes where the numbers come from.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs (GOMAXPROCS %d), %s/%s, %s", model, runtime.NumCPU(), runtime.GOMAXPROCS(0),
		runtime.GOOS, runtime.GOARCH, runtime.Version())
}

var errFailed = errors.New("calls failed")

// drain reads and discards a body.
func drain(r io.Reader) { _, _ = io.Copy(io.Discard, r) }
