package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// quantile returns the q-quantile of ds by nearest rank; it sorts ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q*float64(len(ds))+0.5) - 1
	return ds[max(0, min(i, len(ds)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// report prints the run: the machine and command, then p50 and p99 of the
// direct calls, the gateway calls, the added latency (gateway quantile
// minus direct quantile) and the pairwise differences.
func report(w io.Writer, o options, r result) {
	pairs := len(r.direct)
	dp50, dp99 := quantile(r.direct, .5), quantile(r.direct, .99)
	gp50, gp99 := quantile(r.gateway, .5), quantile(r.gateway, .99)
	var b strings.Builder
	fmt.Fprintf(&b, "machine:     %s\n", machine())
	fmt.Fprintf(&b, "command:     %s\n", strings.Join(os.Args, " "))
	fmt.Fprintf(&b, "load:        %d concurrent requests, %d pairs (direct + gateway) in %s, %.0f calls/s, %d failed pairs\n",
		o.concurrency, pairs, r.elapsed.Round(time.Millisecond), float64(2*pairs)/r.elapsed.Seconds(), r.failures)
	fmt.Fprintf(&b, "%-26s %12s %12s\n", "", "p50", "p99")
	fmt.Fprintf(&b, "%-26s %12s %12s\n", "direct (apihost)", ms(dp50), ms(dp99))
	fmt.Fprintf(&b, "%-26s %12s %12s\n", "through the gateway", ms(gp50), ms(gp99))
	fmt.Fprintf(&b, "%-26s %12s %12s\n", "added (gateway - direct)", ms(gp50-dp50), ms(gp99-dp99))
	fmt.Fprintf(&b, "%-26s %12s %12s\n", "pairwise difference", ms(quantile(r.diffs, .5)), ms(quantile(r.diffs, .99)))
	if r.lastErr != nil {
		fmt.Fprintf(&b, "last failure: %v\n", r.lastErr)
	}
	_, _ = io.WriteString(w, b.String())
}
