// Command gatewaylat measures the latency fnmgr's gateway adds to action
// invocations against the real local stack (`make bench-stack`): one warm
// nodejs action is invoked (blocking, result only) directly at the API host
// and through the gateway, interleaved, by -concurrency workers at once,
// and the p50 and p99 of both paths and of their difference are printed.
//
// Without -endpoints it starts the local stack in this process (on free
// loopback ports, in a temporary directory, with bin/fnmgr beside this
// executable unless -fnmgr-bin says otherwise; tests/stackenv) and stops
// it at the end.
// With -endpoints it uses a running stack (`make run`'s
// .local/endpoints.json). Every address is on 127.0.0.1; the run is bounded
// by -duration and -max-calls.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/fnmgr/fnmgr/deploy/local/stack"
	"github.com/fnmgr/fnmgr/tests/stackenv"
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
	flag.StringVar(&o.fnmgrBin, "fnmgr-bin", "", "fnmgr executable for the stack this command starts (default: fnmgr from $FNMGR_TEST_BIN_DIR, else beside this executable, else in the repository's bin/, else built)")
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
		e, err := stackenv.ReadEndpoints(o.endpoints)
		return e, func() {}, err
	}
	fmt.Fprintln(os.Stderr, "gatewaylat: starting the local stack")
	st, err := stackenv.Launch(ctx, stackenv.Options{FnmgrBin: o.fnmgrBin,
		Modify: func(so *stack.Options) { so.UserMemoryMB = o.userMemory }})
	if err != nil {
		return stack.Endpoints{}, nil, err
	}
	stop := func() {
		if err := st.Stop(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "gatewaylat:", err)
		}
	}
	return st.EP, stop, nil
}

var errFailed = errors.New("calls failed")

// drain reads and discards a body.
func drain(r io.Reader) { _, _ = io.Copy(io.Discard, r) }
