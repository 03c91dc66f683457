package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fnmgr/fnmgr/plugin/gateway"
	"github.com/fnmgr/fnmgr/plugin/httpapi"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/routes"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

// benchConcurrency is the number of requests in flight, as in the
// acceptance target (1 ms added at p50, 3 ms at p99, at 200 concurrent
// requests).
const benchConcurrency = 200

// BenchmarkAddedLatency measures what the gateway adds to a call, side by
// side with direct calls in one run: concurrency workers each alternate a
// direct call to an in-process controller and the same call through the
// gateway (with the lifecycle Router on a table of 1000 functions). One
// iteration is one such pair. It reports the p50 and p99 of both, the
// added latency (gateway quantile minus direct quantile) and the pairwise
// differences, in milliseconds. The controller answers at once, like a
// warm action whose run time is not the gateway's concern. Client,
// gateway and controller share the machine's cores: at 200 concurrent
// requests on a small machine the CPU is saturated and the added latency
// is mostly the gateway's CPU time queueing behind everyone's; at 1 it is
// the gateway's own time.
//
// Two more cases give every call the run time of a short warm action
// (100 ms, which the controller holds a blocking invocation for): the
// same 200 requests in flight are then about 2,000 calls a second rather
// than as many as the cores can push, which is how a gateway in front of
// real controllers is loaded. Their workers start spread over one call's
// time, as independent clients arrive, so that they do not move as one
// herd (200 calls woken in the same instant, every 100 ms). The second of
// them runs the gateway in a process of its own, as fnmgr runs beside a
// controller, so that the load generator's and the controller's garbage
// collection do not pause it.
func BenchmarkAddedLatency(b *testing.B) {
	for _, c := range []struct {
		concurrency int
		action      time.Duration
		separate    bool
	}{
		{benchConcurrency, 0, false},
		{benchConcurrency, 100 * time.Millisecond, false},
		{benchConcurrency, 100 * time.Millisecond, true},
		{1, 0, false},
	} {
		name := fmt.Sprintf("concurrency=%d", c.concurrency)
		if c.action > 0 {
			name += fmt.Sprintf("/action=%s", c.action)
		}
		if c.separate {
			name += "/gateway-process"
		}
		b.Run(name, func(b *testing.B) { sideBySide(b, c.concurrency, c.action, c.separate) })
	}
}

// fixture is a controller, and the gateway in front of it.
type benchFixture struct {
	ctrl  *httptest.Server
	front string // the gateway's base URL
}

// benchGatewayEnv names the controller a child process of the test
// binary runs the gateway for (see TestMain).
const benchGatewayEnv = "FNMGR_BENCH_GATEWAY_UPSTREAM"

func TestMain(m *testing.M) {
	if up := os.Getenv(benchGatewayEnv); up != "" {
		os.Exit(serveBenchGateway(up))
	}
	os.Exit(m.Run())
}

// newBenchGateway is the gateway the benchmarks measure: the lifecycle
// Router over a table of 1000 functions, in front of upstream.
func newBenchGateway(upstream string) (*gateway.Gateway, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	table := routes.New()
	for i := range 1000 {
		table.Set(fmt.Sprintf("guest/fn%d", i), &routes.Entry{State: registry.Published,
			Aliases: map[string][]registry.Route{"prod": {{Version: 1, Weight: 100}}}})
	}
	router, err := routes.NewRouter(table, func(context.Context, string, string) (string, []string, error) {
		return "guest", []string{"guest"}, nil
	}, routes.RouterOptions{})
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	hm, _ := httpapi.NewMetrics(reg)
	gw, err := gateway.New(gateway.Options{Controllers: []*url.URL{u}, Router: router, Registerer: reg,
		HTTPMetrics: hm, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	return gw, gw.Start(context.Background())
}

// serveBenchGateway runs the gateway in this (child) process, as fnmgr
// runs it beside the controller: it prints its address and serves until
// its standard input closes.
func serveBenchGateway(upstream string) int {
	gw, err := newBenchGateway(upstream)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = gw.Stop(context.Background()) }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: gw}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("listening %s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	return 0
}

// startGatewayProcess starts the gateway in a child process in front of
// upstream and returns its base URL.
func startGatewayProcess(b *testing.B, upstream string) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), benchGatewayEnv+"="+upstream)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		b.Fatalf("gateway process: %q, %v", line, err)
	}
	return "http://" + addr
}

// newBenchFixture starts a controller whose calls take action, and the
// gateway in front of it: in this process, or (separate) in a child
// process of its own, as fnmgr runs beside a controller, so that neither
// the load generator's nor the controller's garbage collection pauses it.
func newBenchFixture(b *testing.B, action time.Duration, separate bool) benchFixture {
	b.Helper()
	ctrl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// The action runs (a chosen time); the blocking call waits.
		testkit.Pause(r.Context(), action)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Openwhisk-Activation-Id", "0123456789abcdef0123456789abcdef")
		_, _ = fmt.Fprintf(w, `{"greeting":"hello","echo":%s}`, body)
	}))
	b.Cleanup(ctrl.Close)
	if separate {
		return benchFixture{ctrl: ctrl, front: startGatewayProcess(b, ctrl.URL)}
	}
	gw, err := newBenchGateway(ctrl.URL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = gw.Stop(context.Background()) })
	front := httptest.NewServer(gw)
	b.Cleanup(front.Close)
	return benchFixture{ctrl: ctrl, front: front.URL}
}

func sideBySide(b *testing.B, concurrency int, action time.Duration, separate bool) {
	f := newBenchFixture(b, action, separate)
	ctrl, front := f.ctrl, f.front
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 4 * concurrency,
		MaxIdleConnsPerHost: 2 * concurrency, DisableCompression: true}}
	const path = "/api/v1/namespaces/_/actions/hello?blocking=true&result=true"
	call := func(base string) (time.Duration, error) {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(`{"name":"bench"}`))
		req.SetBasicAuth("23bc46b1-71f6-4ed5-8c54-816aa4f8c502", "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP")
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		return d, nil
	}
	// Warm both paths' connections.
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() { _, _ = call(ctrl.URL); _, _ = call(front) })
	}
	wg.Wait()

	direct, through := make([]time.Duration, b.N), make([]time.Duration, b.N)
	work := make(chan int, b.N)
	for i := range b.N {
		work <- i
	}
	close(work)
	errs := make(chan error, concurrency)
	b.ResetTimer()
	for w := range concurrency {
		wg.Go(func() {
			if action > 0 {
				// Start the workers spread over one call's time, as
				// independent clients arrive, not as one herd.
				// (A chosen delay: pacing, not a wait for anything.)
				testkit.Pause(b.Context(), time.Duration(w)*action/time.Duration(concurrency))
			}
			for i := range work {
				// Alternate which goes first so neither path always
				// meets the other's leftovers.
				first, second := ctrl.URL, front
				if (i+w)%2 == 1 {
					first, second = second, first
				}
				d1, err1 := call(first)
				d2, err2 := call(second)
				if err := firstErr(err1, err2); err != nil {
					errs <- err
					return
				}
				if first == ctrl.URL {
					direct[i], through[i] = d1, d2
				} else {
					direct[i], through[i] = d2, d1
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	diffs := make([]time.Duration, b.N)
	for i := range diffs {
		diffs[i] = through[i] - direct[i]
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	dp50, dp99 := quantile(direct, .5), quantile(direct, .99)
	gp50, gp99 := quantile(through, .5), quantile(through, .99)
	b.ReportMetric(ms(dp50), "direct-p50-ms")
	b.ReportMetric(ms(dp99), "direct-p99-ms")
	b.ReportMetric(ms(gp50), "gateway-p50-ms")
	b.ReportMetric(ms(gp99), "gateway-p99-ms")
	b.ReportMetric(ms(gp50-dp50), "added-p50-ms")
	b.ReportMetric(ms(gp99-dp99), "added-p99-ms")
	b.ReportMetric(ms(quantile(diffs, .5)), "pair-diff-p50-ms")
	b.ReportMetric(ms(quantile(diffs, .99)), "pair-diff-p99-ms")
}

// BenchmarkProxyCost is the cost of one call (two calls in flight, one
// per core here) directly, through a bare httputil.ReverseProxy, and
// through the gateway, to tell what the gateway's own work (routing,
// balancing, replayable body, health, metrics) adds to proxying itself.
func BenchmarkProxyCost(b *testing.B) {
	f := newBenchFixture(b, 0, false)
	u, _ := url.Parse(f.ctrl.URL)
	bare := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) }})
	b.Cleanup(bare.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	for _, c := range []struct{ name, base string }{
		{"direct", f.ctrl.URL}, {"bare-reverse-proxy", bare.URL}, {"gateway", f.front},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, c.base+"/api/v1/namespaces/guest/actions/fn1?blocking=true",
						strings.NewReader(`{"name":"bench"}`))
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// quantile returns the q-quantile of ds (nearest rank); it sorts ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q*float64(len(ds))+0.5) - 1
	return ds[max(0, min(i, len(ds)-1))]
}
