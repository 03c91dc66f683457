// Package preflight checks that fnmgr can run with a configuration: that
// CouchDB answers and holds OpenWhisk's databases, that Kafka answers and
// has the topics fnmgr consumes and produces, and that every controller
// answers. Each failure says what failed and how to fix it. It is what
// `fnmgr check` runs; it changes nothing anywhere (no database or topic is
// created) and never shows a credential.
package preflight

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/plugin/config"
)

// DefaultTimeout bounds each check.
const DefaultTimeout = 5 * time.Second

// Result is the outcome of one check.
type Result struct {
	// Name is the dependency: "couchdb", "kafka", "controller", …
	Name string `json:"name"`
	// Target is what was checked (a URL without credentials, a broker
	// list, a database name).
	Target string `json:"target"`
	OK     bool   `json:"ok"`
	// Warning marks a passed check that found something fnmgr works
	// without, at a loss the Detail and Fix name.
	Warning bool `json:"warning,omitempty"`
	// Detail says what was found, or what failed.
	Detail string `json:"detail"`
	// Fix says how to fix a failure.
	Fix string `json:"fix,omitempty"`
}

// Options configure Run.
type Options struct {
	Config config.Options
	// Timeout bounds each check (DefaultTimeout when zero).
	Timeout time.Duration
	// HTTPClient reaches CouchDB and the controllers; one over
	// couch.NewTransport when nil.
	HTTPClient *http.Client
}

// Run runs every check, concurrently, and returns the results in a fixed
// order: CouchDB, its databases, Kafka, the controllers, storage.
func Run(ctx context.Context, o Options) []Result {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: couch.NewTransport(couch.ClientOptions{})}
	}
	checks := []func(context.Context, Options) []Result{checkCouch, checkKafka, checkControllers, checkStorage}
	out := make([][]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = c(ctx, o)
		}()
	}
	wg.Wait()
	var all []Result
	for _, rs := range out {
		all = append(all, rs...)
	}
	return all
}

// Failed counts the failed results.
func Failed(rs []Result) int {
	n := 0
	for _, r := range rs {
		if !r.OK {
			n++
		}
	}
	return n
}

// Print writes the results as aligned lines, each failure followed by its
// fix.
func Print(w io.Writer, rs []Result) error {
	width := 0
	for _, r := range rs {
		width = max(width, len(r.Name))
	}
	var b strings.Builder
	for _, r := range rs {
		status := "ok  "
		switch {
		case !r.OK:
			status = "FAIL"
		case r.Warning:
			status = "warn"
		}
		fmt.Fprintf(&b, "%s  %-*s  %s: %s\n", status, width, r.Name, r.Target, r.Detail)
		if (!r.OK || r.Warning) && r.Fix != "" {
			fmt.Fprintf(&b, "      %*s  fix: %s\n", width, "", r.Fix)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ok(name, target, detail string) Result {
	return Result{Name: name, Target: target, OK: true, Detail: detail}
}

// Warnings counts the passed checks that warn.
func Warnings(rs []Result) int {
	n := 0
	for _, r := range rs {
		if r.OK && r.Warning {
			n++
		}
	}
	return n
}

func warn(name, target, detail, fix string) Result {
	return Result{Name: name, Target: target, OK: true, Warning: true, Detail: detail, Fix: fix}
}

func fail(name, target, detail, fix string) Result {
	return Result{Name: name, Target: target, Detail: detail, Fix: fix}
}

// cause is a transport error without the URL (which may carry a password).
func cause(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Contains(s[:i], "://") {
		s = s[i+2:]
	}
	return s
}
