package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/fnmgr/fnmgr/tests/stackenv"
)

// report prints the run: the machine and command, then p50 and p99 of the
// direct calls, the gateway calls, the added latency (gateway quantile
// minus direct quantile) and the pairwise differences.
func report(w io.Writer, o options, r result) {
	pairs := len(r.direct)
	dp50, dp99 := stackenv.Quantile(r.direct, .5), stackenv.Quantile(r.direct, .99)
	gp50, gp99 := stackenv.Quantile(r.gateway, .5), stackenv.Quantile(r.gateway, .99)
	var b strings.Builder
	fmt.Fprintf(&b, "machine:     %s\n", stackenv.Machine())
	fmt.Fprintf(&b, "command:     %s\n", strings.Join(os.Args, " "))
	fmt.Fprintf(&b, "load:        %d concurrent requests, %d pairs (direct + gateway) in %s, %.0f calls/s, %d failed pairs\n",
		o.concurrency, pairs, r.elapsed.Round(time.Millisecond), float64(2*pairs)/r.elapsed.Seconds(), r.failures)
	fmt.Fprintf(&b, "%-26s %12s %12s\n", "", "p50", "p99")
	fmt.Fprintf(&b, "%-26s %12s %12s\n", "direct (apihost)", stackenv.Ms(dp50), stackenv.Ms(dp99))
	fmt.Fprintf(&b, "%-26s %12s %12s\n", "through the gateway", stackenv.Ms(gp50), stackenv.Ms(gp99))
	fmt.Fprintf(&b, "%-26s %12s %12s\n", "added (gateway - direct)", stackenv.Ms(gp50-dp50), stackenv.Ms(gp99-dp99))
	fmt.Fprintf(&b, "%-26s %12s %12s\n", "pairwise difference", stackenv.Ms(stackenv.Quantile(r.diffs, .5)), stackenv.Ms(stackenv.Quantile(r.diffs, .99)))
	if r.lastErr != nil {
		fmt.Fprintf(&b, "last failure: %v\n", r.lastErr)
	}
	_, _ = io.WriteString(w, b.String())
}
