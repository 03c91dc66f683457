// Command blocklat measures how soon a block takes effect: the time from
// the start of the admin API's block call to the end of the first
// invocation refused, on every path that runs a function in a stock
// OpenWhisk (the controller's API, name@N, name@alias, a web action, a
// sequence, a trigger's rule) and through the gateway. Each of -trials
// rounds unblocks the function, waits until every path runs it again,
// then blocks it while every path is invoked in a loop.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/fnmgr/fnmgr/tests/stackenv"
)

func main() {
	trials := flag.Int("trials", 20, "block/unblock rounds")
	bin := flag.String("fnmgr-bin", "", "fnmgr executable (default: fnmgr from $FNMGR_TEST_BIN_DIR, else beside this executable, else in the repository's bin/, else built)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *trials, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "blocklat:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, trials int, bin string) error {
	st, err := stackenv.Launch(ctx, stackenv.Options{FnmgrBin: bin})
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Stop(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	c := newClient(st.Stack.Endpoints())
	if err := c.setup(ctx); err != nil {
		return err
	}
	lat := map[string][]time.Duration{}
	var calls []time.Duration
	for trial := range trials {
		if err := c.admin(ctx, "POST", "/unblock", nil); err != nil && trial > 0 {
			return err
		}
		if err := c.waitRunnable(ctx); err != nil {
			return fmt.Errorf("trial %d: %w", trial, err)
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		t0 := time.Now()
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		for _, p := range c.paths() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for pctx.Err() == nil {
					if refused, _ := p.probe(pctx); refused {
						d := time.Since(t0)
						mu.Lock()
						lat[p.name] = append(lat[p.name], d)
						mu.Unlock()
						return
					}
				}
			}()
		}
		if err := c.admin(ctx, "POST", "/block", map[string]any{"reason": "blocklat"}); err != nil {
			cancel()
			return err
		}
		calls = append(calls, time.Since(t0))
		wg.Wait()
		cancel()
		for _, p := range c.paths() {
			if len(lat[p.name]) != trial+1 {
				return fmt.Errorf("trial %d: %s never refused within 30 s", trial, p.name)
			}
		}
		fmt.Fprintf(os.Stderr, "blocklat: trial %d done\n", trial+1)
	}
	fmt.Printf("machine: %s\n", stackenv.Machine())
	fmt.Printf("block call: p50 %s, p99 %s (%d trials)\n", stackenv.Ms(stackenv.Quantile(calls, .5)), stackenv.Ms(stackenv.Quantile(calls, .99)), trials)
	var all []time.Duration
	names := make([]string, 0, len(lat))
	for n := range lat {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		all = append(all, lat[n]...)
		fmt.Printf("%-24s first refusal after p50 %s, p99 %s, max %s\n", n, stackenv.Ms(stackenv.Quantile(lat[n], .5)),
			stackenv.Ms(stackenv.Quantile(lat[n], .99)), stackenv.Ms(stackenv.Quantile(lat[n], 1)))
	}
	worst := make([]time.Duration, trials) // per trial, the last path to refuse
	for _, n := range names {
		for i, d := range lat[n] {
			worst[i] = max(worst[i], d)
		}
	}
	fmt.Printf("%-24s p50 %s, p99 %s, max %s\n", "every path refusing", stackenv.Ms(stackenv.Quantile(worst, .5)),
		stackenv.Ms(stackenv.Quantile(worst, .99)), stackenv.Ms(stackenv.Quantile(worst, 1)))
	return nil
}
