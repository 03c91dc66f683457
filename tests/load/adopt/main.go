// Command adopt measures how long fnmgr takes to adopt existing actions,
// and its peak memory doing so: it starts the local stack, stops fnmgr
// (SIGKILL), writes -actions actions into OpenWhisk's whisks database as
// OpenWhisk's controller stores them, starts fnmgr again and times it
// until every action is a function with its first revision (its /readyz
// answers 200 once the change feed has caught up; the admin API then
// lists them all). Peak memory is fnmgr's VmHWM (/proc/<pid>/status).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/go-kivik/kivik/v4"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/deploy/local/stack"
	"github.com/fnmgr/fnmgr/plugin/versions"
	"github.com/fnmgr/fnmgr/tests/stackenv"
	"github.com/fnmgr/fnmgr/tests/testkit"
)

func main() {
	n := flag.Int("actions", 10_000, "actions to adopt")
	bin := flag.String("fnmgr-bin", "", "fnmgr executable (default: fnmgr from $FNMGR_TEST_BIN_DIR, else beside this executable, else in the repository's bin/, else built)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *n, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "adopt:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, n int, bin string) error {
	st, err := stackenv.Launch(ctx, stackenv.Options{FnmgrBin: bin})
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Stop(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	eps := st.Stack.Endpoints()
	if err := st.Stack.KillFnmgr(); err != nil {
		return err
	}
	client, err := couch.NewClient(ctx, eps.CouchDB, couch.ClientOptions{})
	if err != nil {
		return err
	}
	defer client.Close()
	whisks := whiskdb.New(client.DB(stack.DBPrefix + "whisks"))
	fmt.Fprintf(os.Stderr, "adopt: writing %d actions while fnmgr is down\n", n)
	t0 := time.Now()
	if err := writeActions(ctx, whisks, n); err != nil {
		return err
	}
	wrote := time.Since(t0)

	fmt.Fprintln(os.Stderr, "adopt: starting fnmgr")
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := st.Stack.StartFnmgr(sctx); err != nil {
		return err
	}
	pid := st.Stack.FnmgrPID()
	var peakRSS int64
	ready := time.Duration(0)
	hc := &http.Client{Timeout: 5 * time.Second}
	for ready == 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		peakRSS = max(peakRSS, stackenv.ProcStatus(pid, "VmRSS"))
		if resp, err := hc.Get(eps.Admin + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ready = time.Since(start)
			}
		}
		if time.Since(start) > 30*time.Minute {
			return fmt.Errorf("not ready after 30 minutes")
		}
		// Readiness is polled, and the RSS sampled, every 100 ms.
		if !testkit.Pause(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
	adopted, err := countFunctions(ctx, hc, eps)
	if err != nil {
		return err
	}
	hwm := stackenv.ProcStatus(pid, "VmHWM")
	// fnmgr annotates every adopted action (fnmgr-state) a quiet while
	// after adopting it; the high-water mark after those writes counts too.
	err = testkit.Await(ctx, 5*time.Minute, 500*time.Millisecond, func() bool {
		k, err := annotatedCount(ctx, whisks)
		return err == nil && k >= n
	})
	if err != nil {
		return fmt.Errorf("fnmgr did not annotate the %d adopted actions: %w", n, err)
	}
	annotatedAt := time.Since(start)
	hwmAfter := stackenv.ProcStatus(pid, "VmHWM")
	fmt.Printf("machine: %s\n", stackenv.Machine())
	fmt.Printf("actions: %d written in %s (%.0f/s) while fnmgr was down\n", n, wrote.Round(time.Millisecond), float64(n)/wrote.Seconds())
	fmt.Printf("adopted: %d functions; fnmgr ready %s after its start (%.0f actions/s)\n", adopted, ready.Round(time.Millisecond), float64(n)/ready.Seconds())
	fmt.Printf("fnmgr peak RSS: VmHWM %.1f MB at ready, %.1f MB once every action was annotated, %s after its start (sampled VmRSS max %.1f MB)\n",
		float64(hwm)/1024, float64(hwmAfter)/1024, annotatedAt.Round(time.Millisecond), float64(peakRSS)/1024)
	if adopted != n {
		return fmt.Errorf("%d of %d actions adopted", adopted, n)
	}
	return nil
}

// annotatedCount counts the actions guest/adopt* that carry fnmgr's state
// annotation.
func annotatedCount(ctx context.Context, whisks *whiskdb.Store) (int, error) {
	rows := whisks.DB().AllDocs(ctx, kivik.Params(map[string]any{"include_docs": true,
		"startkey": "guest/adopt", "endkey": "guest/adopt\ufff0"}))
	defer rows.Close()
	k := 0
	for rows.Next() {
		var a struct {
			Annotations entity.KeyValues `json:"annotations"`
		}
		if err := rows.ScanDoc(&a); err != nil {
			return 0, err
		}
		if _, ok := a.Annotations.Get(versions.AnnotationState); ok {
			k++
		}
	}
	return k, rows.Err()
}

// writeActions writes n actions guest/adoptNNNNN with 16 writers.
func writeActions(ctx context.Context, whisks *whiskdb.Store, n int) error {
	next := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				a := entity.Action{Namespace: "guest", Name: fmt.Sprintf("adopt%05d", i), Version: "0.0.1",
					Exec: entity.Exec{Kind: "nodejs:20"}, Limits: entity.DefaultLimits(),
					Annotations: entity.KeyValues{}.With("exec", "nodejs:20"), Updated: time.Now().UnixMilli()}
				code := fmt.Sprintf("function main(params) { return {adopted: %d, name: params.name || 'world'} }", i)
				if _, err := whisks.PutAction(ctx, a, []byte(code), entity.TextContentType); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range n {
		select {
		case next <- i:
		case err := <-errs:
			close(next)
			wg.Wait()
			return err
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// countFunctions lists guest's functions through the admin API.
func countFunctions(ctx context.Context, hc *http.Client, eps stack.Endpoints) (int, error) {
	total := 0
	for skip := 0; ; skip += 200 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet,
			fmt.Sprintf("%s/v1/namespaces/guest/functions?limit=200&skip=%d", eps.Admin, skip), nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+eps.AdminToken)
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		var list []struct {
			Head struct {
				Revision int `json:"revision"`
			} `json:"head"`
		}
		err = decodeJSON(resp, &list)
		if err != nil {
			return 0, err
		}
		for _, f := range list {
			if f.Head.Revision >= 1 {
				total++
			}
		}
		if len(list) < 200 {
			return total, nil
		}
	}
}

// decodeJSON reads a 200 answer's JSON body into v.
func decodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %.200s", resp.Status, b)
	}
	return json.Unmarshal(b, v)
}
