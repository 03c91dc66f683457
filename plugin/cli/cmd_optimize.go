package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/fnmgr/fnmgr/optimizer/search"
	"github.com/fnmgr/fnmgr/plugin/client"
)

func optimizeCommand() *Command {
	return &Command{Name: "optimize", Args: "NAME", Summary: "find a function's best memory (and GPU) settings by running it",
		Long: "Starts the pre-optimizer on function NAME: it invokes the function with the given\n" +
			"payloads under candidate settings, within --max-invocations, and reports duration and\n" +
			"cost for each. On a terminal a progress bar shows the invocations made; then the result\n" +
			"summary and the table of measured sizes are printed (--json: the whole report).\n" +
			"--apply applies the best setting. --status ID follows a run started earlier, --cancel ID\n" +
			"stops one. `fnmgr optimize list NAME` lists a function's runs; `fnmgr optimize replay`\n" +
			"runs the same search against measured curves instead (see fnmgr optimize replay --help).",
		Sub: []*Command{optimizeListCommand(), replayCommand()},
		Example: "fnmgr optimize hello --payload '{\"n\":1000}' --memory 128,256,512\n" +
			"fnmgr optimize hello --payload-file payloads.json --objective duration --apply\n" +
			"fnmgr optimize hello --status 6f1c…\n" +
			"fnmgr optimize list hello",
		Flags: func(fs *pflag.FlagSet) Action {
			var payloads stringsFlag
			fs.Var(&payloads, "payload", "a `JSON` object to invoke the function with (repeatable)")
			payloadFile := fs.String("payload-file", "", "payloads from `FILE`: a JSON array of objects, or one object per line")
			objective := fs.String("objective", "", "what to optimise: `OBJECTIVE` min-resources (the smallest size within --tolerance of the fastest; also called duration), cost or balanced (default: min-resources)")
			completeValues(fs, "objective", append(objectives(search.Objectives), search.DurationAlias)...)
			tolerance := fs.String("tolerance", "", "how much worse than the best is acceptable, as a `FRACTION` such as 0.1")
			memory := fs.String("memory", "", "memory candidates in `MB`, comma-separated (default: the optimizer's)")
			maxInv := fs.Int("max-invocations", 0, "spend at most `N` invocations")
			gpu := fs.Bool("gpu", false, "tune GPU settings too (needs DCGM on the invokers)")
			apply := fs.Bool("apply", false, "apply the best setting when done")
			noWait := fs.Bool("no-wait", false, "print the run's id and return at once")
			status := fs.String("status", "", "follow the run with this `ID` instead of starting one")
			cancel := fs.String("cancel", "", "cancel the run with this `ID`")
			poll := fs.Duration("poll", time.Second, "how often to ask for progress")
			return func(ctx context.Context, s *Session, args []string) error {
				name := args[0]
				if *cancel != "" {
					if err := s.client.CancelOptimization(ctx, name, *cancel); err != nil {
						return err
					}
					return s.okf(map[string]any{"id": *cancel, "cancelled": true}, "cancelled optimization %s of %s", *cancel, name)
				}
				id := *status
				if id == "" {
					req, err := optimizationRequest(payloads, *payloadFile, *objective, *tolerance, *memory, *maxInv, *gpu, *apply)
					if err != nil {
						return err
					}
					if id, err = s.client.StartOptimization(ctx, name, req); err != nil {
						return err
					}
					if *noWait {
						return s.okf(map[string]string{"id": id}, "started optimization %s of %s; follow it with: fnmgr optimize %s --status %s", id, name, name, id)
					}
				}
				o, err := follow(ctx, s, name, id, max(*poll, 50*time.Millisecond))
				if err != nil {
					return err
				}
				chart := chartURL(s.client.BaseURL(), s.client.Namespace(), name, id)
				if err := s.emit(o, func(w io.Writer) error { return optimizationResult(w, name, chart, o) }); err != nil {
					return err
				}
				if o.Status != client.OptimizationSucceeded {
					return fmt.Errorf("optimization %s of %s %s%s", id, name, o.Status, suffix(": ", o.Error))
				}
				return nil
			}
		}}
}

// objectives are the names of all, for completion.
func objectives(all []search.Objective) []string {
	out := make([]string, len(all))
	for i, o := range all {
		out[i] = string(o)
	}
	return out
}

func suffix(sep, s string) string {
	if s == "" {
		return ""
	}
	return sep + s
}

// optimizationRequest builds the request from the flags.
func optimizationRequest(payloads []string, file, objective, tolerance, memory string, maxInv int, gpu, apply bool) (client.OptimizationRequest, error) {
	req := client.OptimizationRequest{Objective: objective, MaxInvocations: maxInv, Apply: apply, GPU: gpu}
	var raws []json.RawMessage
	for _, p := range payloads {
		if !isObject([]byte(p)) {
			return req, fmt.Errorf("%w: --payload %q is not a JSON object", ErrUsage, p)
		}
		raws = append(raws, json.RawMessage(p))
	}
	if file != "" {
		ps, err := readPayloads(file)
		if err != nil {
			return req, err
		}
		raws = append(raws, ps...)
	}
	if len(raws) == 0 {
		return req, fmt.Errorf("%w: optimize needs at least one --payload or a --payload-file", ErrUsage)
	}
	// Read as the server reads them: the parameters, or {"payload": …,
	// "weight": …}.
	list, _ := json.Marshal(raws)
	if err := json.Unmarshal(list, &req.Payloads); err != nil {
		return req, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if tolerance != "" {
		t, err := strconv.ParseFloat(tolerance, 64)
		if err != nil || t < 0 {
			return req, fmt.Errorf("%w: --tolerance %q is not a fraction such as 0.1", ErrUsage, tolerance)
		}
		req.Tolerance = &t
	}
	if memory != "" {
		for _, m := range strings.Split(memory, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(m))
			if err != nil || n <= 0 {
				return req, fmt.Errorf("%w: --memory %q: write MB values such as 128,256,512", ErrUsage, memory)
			}
			req.MemoryCandidates = append(req.MemoryCandidates, n)
		}
	}
	return req, nil
}

func isObject(b []byte) bool {
	return json.Valid(b) && strings.HasPrefix(strings.TrimSpace(string(b)), "{")
}

// readPayloads reads a JSON array of objects, or one object per line.
func readPayloads(file string) ([]json.RawMessage, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--payload-file: %w", err)
	}
	var arr []json.RawMessage
	if json.Unmarshal(b, &arr) == nil {
		for _, p := range arr {
			if !isObject(p) {
				return nil, fmt.Errorf("%w: --payload-file %s: every payload must be a JSON object", ErrUsage, file)
			}
		}
		return arr, nil
	}
	for i, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if !isObject([]byte(line)) {
			return nil, fmt.Errorf("%w: --payload-file %s line %d is not a JSON object", ErrUsage, file, i+1)
		}
		arr = append(arr, json.RawMessage(line))
	}
	return arr, nil
}

// follow polls the run until it ends, drawing a progress bar on a
// terminal's stderr.
func follow(ctx context.Context, s *Session, name, id string, every time.Duration) (client.Optimization, error) {
	tty := s.env.isTerminal(s.env.Stderr)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		o, err := s.client.Optimization(ctx, name, id)
		if err != nil {
			if tty {
				fmt.Fprint(s.env.Stderr, "\n")
			}
			return o, err
		}
		if tty {
			fmt.Fprint(s.env.Stderr, "\r"+progressBar(o.Progress, 30)+" "+string(o.Status)+"  ")
		}
		if finished(o.Status) {
			if tty {
				fmt.Fprint(s.env.Stderr, "\n")
			}
			return o, nil
		}
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprint(s.env.Stderr, "\n")
			}
			return o, fmt.Errorf("stopped following optimization %s, which goes on (follow it with: fnmgr optimize %s --status %s): %w",
				id, name, id, ctx.Err())
		case <-t.C:
		}
	}
}

// finished reports whether a run with status st has ended: any status but
// queued and running (one this CLI does not know included, so that
// following never outlasts the run).
func finished(st client.OptimizationStatus) bool {
	return st != "" && st != client.OptimizationRunning && st != client.OptimizationQueued
}

// progressBar draws "[#######.......]  7/16 invocations".
func progressBar(p client.Progress, width int) string {
	filled := 0
	if p.Total > 0 {
		filled = min(width, p.Done*width/p.Total)
	}
	return fmt.Sprintf("[%s%s] %d/%d invocations", strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.Done, p.Total)
}

// optimizeListCommand is `fnmgr optimize list NAME`: a function's runs,
// newest first.
func optimizeListCommand() *Command {
	return &Command{Name: "list", Args: "NAME", Summary: "list a function's optimizations, newest first",
		Long:    "Lists the pre-optimizer's runs of function NAME, newest first: when each started, its\nstatus, the size it recommends against the size the action had, and the change in cost.",
		Example: "fnmgr optimize list hello\nfnmgr optimize list hello --json",
		Flags: noFlags(func(ctx context.Context, s *Session, args []string) error {
			runs, err := s.client.Optimizations(ctx, args[0])
			if err != nil {
				return err
			}
			return s.emit(runs, func(w io.Writer) error {
				if len(runs) == 0 {
					_, err := fmt.Fprintf(w, "no optimizations of %s\n", args[0])
					return err
				}
				rows := make([][]string, 0, len(runs))
				for _, r := range runs {
					rec, cost := "-", "-"
					if r.Recommendation != nil {
						rec = fmt.Sprintf("%d MB", r.Recommendation.MemoryMB)
						if r.Current != nil && r.Current.MemoryMB > 0 {
							rec += fmt.Sprintf(" (was %d MB)", r.Current.MemoryMB)
						}
						if r.Recommendation.Predicted {
							rec += " predicted"
						}
						if r.Applied {
							rec += ", applied"
						}
					}
					if r.Saving != nil {
						cost = pct(-r.Saving.GBSecondsSavedPct)
					}
					status := string(r.Status)
					if r.Status != client.OptimizationSucceeded && r.Status != client.OptimizationFailed && r.Status != client.OptimizationCancelled {
						status += fmt.Sprintf(" %d/%d", r.Progress.Done, r.Progress.Total)
					}
					rows = append(rows, []string{r.ID, when(r.Created), status, dash(r.Objective), rec, cost, dash(r.By)})
				}
				return table(w, []string{"ID", "STARTED", "STATUS", "OBJECTIVE", "RECOMMENDED", "COST", "BY"}, rows)
			})
		})}
}
