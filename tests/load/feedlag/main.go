// Command feedlag measures fnmgr's change-feed lag: the time from a write
// of an action to OpenWhisk's whisks database (the start of the PUT that
// stored it) to the moment fnmgr has recorded it as a revision, at a
// steady rate of writes (-rate, default 100 writes/s) for -duration.
//
// It runs fnmgr's version machinery in this process, wired as plugin/app
// wires it and with its defaults (the whisks change-feed follower, the
// Version Controller, the Meta Registry, CouchDB storage), over a
// pouchdb-server of its own, so that each revision is timed the moment
// fnmgr's change handler returns for it. The writes update -actions
// existing actions in turn, as OpenWhisk's controller does (a conflict with
// fnmgr's own annotation writes is read again and retried, as the
// controller's 409 would be by a user). Everything is on 127.0.0.1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/couch/feed"
	"github.com/fnmgr/fnmgr/couch/whiskdb"
	"github.com/fnmgr/fnmgr/deploy/local/couchdb"
	"github.com/fnmgr/fnmgr/plugin/openwhisk"
	"github.com/fnmgr/fnmgr/plugin/registry"
	"github.com/fnmgr/fnmgr/plugin/storage"
	"github.com/fnmgr/fnmgr/plugin/versions"
	"github.com/fnmgr/fnmgr/tests/stackenv"
)

type options struct {
	rate     int
	duration time.Duration
	actions  int
	replace  bool
}

func main() {
	var o options
	flag.IntVar(&o.rate, "rate", 100, "writes per second")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "how long to write")
	flag.IntVar(&o.actions, "actions", 300, "actions written in turn (each gets rate*duration/actions updates; fnmgr keeps 50)")
	flag.BoolVar(&o.replace, "replace-annotations", false,
		"every write replaces the action's annotations (as `wsk action update -a …` does), dropping fnmgr's; by default a write keeps them, as `wsk action update name code.js` does")
	flag.Parse()
	if o.rate <= 0 || o.duration <= 0 || o.actions <= 0 {
		fmt.Fprintln(os.Stderr, "feedlag: -rate, -duration and -actions must be positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "feedlag:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "feedlag-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	reqs := &requestCounter{n: map[string]int{}}
	srv, err := couchdb.Start(ctx, couchdb.Options{Dir: dir, Logger: slog.New(reqs)})
	if err != nil {
		return err
	}
	defer func() { _ = srv.Stop(context.WithoutCancel(ctx)) }()
	client, err := couch.NewClient(ctx, srv.URL(), couch.ClientOptions{})
	if err != nil {
		return err
	}
	defer client.Close()
	for _, db := range []string{"whisks", "registry", "artifacts"} {
		if err := couch.EnsureDB(ctx, client, db); err != nil {
			return err
		}
	}
	whisks := whiskdb.New(client.DB("whisks"))
	reg := registry.New(client.DB("registry"))
	ver := versions.New(versions.Options{Registry: reg, Storage: storage.NewCouch(client.DB("artifacts")),
		Actions: openwhisk.NewActions(whiskdb.NewBatched(client.DB("whisks")), nil)})
	defer ver.Close()
	clock := newClock()
	f, err := feed.New(feed.Options{URL: srv.URL() + "/whisks", Checkpoints: reg.Checkpoint("whisks"),
		Handler: func(ctx context.Context, c feed.Change) error {
			if err := ver.Observe(ctx, c); err != nil {
				return err
			}
			clock.observed(c.ID, generation(c.Rev), time.Now())
			return nil
		}})
	if err != nil {
		return err
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = f.Run(fctx) }()

	w := &writer{whisks: whisks, revs: map[string]string{}, ann: map[string]entity.KeyValues{}, keep: !o.replace}
	fmt.Fprintf(os.Stderr, "feedlag: creating %d actions\n", o.actions)
	for i := range o.actions {
		if _, _, err := w.write(ctx, name(i), fmt.Sprintf("function main(){ return {i: %d} }", i)); err != nil {
			return err
		}
	}
	if err := waitFor(ctx, time.Minute, func() bool {
		f, err := reg.GetFunction(ctx, "guest", name(o.actions-1))
		return err == nil && f.Revisions == 1
	}); err != nil {
		return fmt.Errorf("the actions were not adopted: %w", err)
	}
	// fnmgr annotates each adopted action (fnmgr-state) a quiet while after
	// its last change: await those writes, so that the measured writes do
	// not meet them.
	if err := waitFor(ctx, time.Minute, func() bool { return annotated(ctx, whisks, o.actions) }); err != nil {
		return fmt.Errorf("fnmgr did not annotate the adopted actions: %w", err)
	}
	clock.reset()
	reqs.reset()
	w.mu.Lock()
	w.puts = nil
	w.mu.Unlock()

	fmt.Fprintf(os.Stderr, "feedlag: writing %d writes/s for %s\n", o.rate, o.duration)
	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(o.rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	var late int
	n := 0
	for time.Since(start) < o.duration && ctx.Err() == nil {
		<-tick.C
		select {
		case sem <- struct{}{}:
		default:
			late++ // 64 writes in flight: the database is saturated
			continue
		}
		i := n
		n++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			nm := name(i % o.actions)
			t0, gen, err := w.write(ctx, nm, fmt.Sprintf("function main(){ return {write: %d} }", i))
			if err != nil {
				fmt.Fprintln(os.Stderr, "feedlag: write:", err)
				return
			}
			clock.wrote(nm, t0, gen)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	_ = waitFor(ctx, 60*time.Second, func() bool { return clock.pending() == 0 })
	lags, unresolved := clock.lags()
	fmt.Printf("machine: %s\n", stackenv.Machine())
	fmt.Printf("writes: %d in %s (%.1f/s asked %d/s; %d skipped with 64 in flight), conflicts retried: %d\n",
		len(lags)+unresolved, elapsed.Round(time.Millisecond), float64(len(lags)+unresolved)/elapsed.Seconds(), o.rate, late, w.conflicts())
	fmt.Printf("lag write→revision: p50 %s, p90 %s, p99 %s, max %s; not recorded within 60 s: %d\n",
		stackenv.Ms(stackenv.Quantile(lags, .5)), stackenv.Ms(stackenv.Quantile(lags, .9)), stackenv.Ms(stackenv.Quantile(lags, .99)),
		stackenv.Ms(stackenv.Quantile(lags, 1)), unresolved)
	w.mu.Lock()
	puts := w.puts
	w.mu.Unlock()
	fmt.Printf("the writer's own PUT (included in the lag): p50 %s, p99 %s, max %s\n",
		stackenv.Ms(stackenv.Quantile(puts, .5)), stackenv.Ms(stackenv.Quantile(puts, .99)), stackenv.Ms(stackenv.Quantile(puts, 1)))
	fmt.Printf("CouchDB requests per write (the writer's and fnmgr's): %s\n", reqs.per(len(lags)+unresolved))
	return nil
}

func name(i int) string { return fmt.Sprintf("lag%04d", i) }

// writer writes actions as OpenWhisk's controller does, keeping each
// action's last revision (and, with keep, its annotations: the controller
// keeps those an update does not name); a conflict (fnmgr annotated the
// action) reads the document again, as the controller does once fnmgr's
// cache invalidation dropped its cached copy.
type writer struct {
	whisks *whiskdb.Store
	keep   bool
	mu     sync.Mutex
	revs   map[string]string
	ann    map[string]entity.KeyValues
	retry  int
	puts   []time.Duration // how long each stored write's PUT took
}

// write stores code as guest/name and returns when the PUT that stored it
// started, and the document's generation it made.
func (w *writer) write(ctx context.Context, name, code string) (time.Time, int, error) {
	a := entity.Action{Namespace: "guest", Name: name, Version: "0.0.1", Exec: entity.Exec{Kind: "nodejs:20"},
		Limits: entity.DefaultLimits(), Annotations: entity.KeyValues{}.With("exec", "nodejs:20")}
	for attempt := 0; ; attempt++ {
		w.mu.Lock()
		a.Rev = w.revs[name]
		if ann, ok := w.ann[name]; ok && w.keep {
			a.Annotations = ann
		}
		w.mu.Unlock()
		a.Updated = time.Now().UnixMilli()
		t0 := time.Now()
		out, err := w.whisks.PutAction(ctx, a, []byte(code), entity.TextContentType)
		if err == nil {
			w.mu.Lock()
			w.revs[name] = out.Rev
			w.puts = append(w.puts, time.Since(t0))
			w.mu.Unlock()
			return t0, generation(out.Rev), nil
		}
		if !errors.Is(err, whiskdb.ErrConflict) || attempt > 20 {
			return t0, 0, err
		}
		cur, err := w.whisks.GetAction(ctx, "guest/"+name, "")
		if err != nil {
			return t0, 0, err
		}
		w.mu.Lock()
		w.revs[name] = cur.Rev
		w.ann[name] = cur.Annotations
		w.retry++
		w.mu.Unlock()
	}
}

func (w *writer) conflicts() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.retry
}

// annotated reports whether the first n actions all carry fnmgr's state
// annotation.
func annotated(ctx context.Context, whisks *whiskdb.Store, n int) bool {
	for i := range n {
		a, err := whisks.GetAction(ctx, "guest/"+name(i), "")
		if err != nil {
			return false
		}
		if _, ok := a.Annotations.Get(versions.AnnotationState); !ok {
			return false
		}
	}
	return true
}

func waitFor(ctx context.Context, within time.Duration, ok func() bool) error {
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
