package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fnmgr/fnmgr/optimizer/replay"
	"github.com/fnmgr/fnmgr/optimizer/search"
)

// replayCommand is `fnmgr optimize replay` (SPEC.md section 7): the
// optimizer's search against measured curves, no admin API needed.
func replayCommand() *Command {
	return &Command{Name: "replay", Summary: "run the optimizer's search against measured memory/duration curves", Local: true,
		Long: "Runs the optimizer's search, unchanged, against measurements instead of a live action:\n" +
			"each *.json file of --curves DIR is one function, {\"function\", \"unit\": \"ms\",\n" +
			"\"points\": [{\"memoryMB\": 128, \"durations\": [412.1, ...]}, ...]} (other keys ignored;\n" +
			"AWS Lambda Power Tuning's {\"stats\": [{\"value\", \"averageDuration\"}]} is read too). The\n" +
			"candidates are the file's memory sizes; an invocation at a size returns one of its\n" +
			"recorded durations at random (a size with fewer than 3 gets log-normal noise of --noise).\n" +
			"Each choice is judged against the file's medians: right when within 5% of the best in\n" +
			"the objective's measure. The summary sets the search beside a Power Tuning-style grid\n" +
			"(every size, equal shares) of the same budget and of 60 invocations.\n" +
			"--objective duration is min-resources: the smallest size within --tolerance of the fastest.",
		Example: "fnmgr optimize replay --curves ./curves --objective cost --max-invocations 15 --trials 20\n" +
			"fnmgr optimize replay --curves ./curves --trials 20 --json",
		Flags: func(fs *pflag.FlagSet) Action {
			dir := fs.String("curves", "", "the folder of curve files (`DIR`/*.json)")
			objective := fs.String("objective", "cost", "what to minimise: `cost`, min-resources, duration or balanced")
			completeValues(fs, "objective", append(objectives(search.Objectives), search.DurationAlias)...)
			_ = cobra.MarkFlagDirname(fs, "curves")
			tolerance := fs.Float64("tolerance", 0.05, "min-resources' allowed slowdown, as a `FRACTION`")
			maxInv := fs.Int("max-invocations", 15, "the search's budget per trial (`N` invocations)")
			trials := fs.Int("trials", 20, "searches per file (`T`), each with its own random draws")
			seed := fs.Uint64("seed", 1, "the random seed (`S`): the same seed gives the same answers")
			noise := fs.Float64("noise", replay.DefaultNoise, "log-normal `SIGMA` put around sizes with fewer than 3 durations")
			return func(ctx context.Context, s *Session, args []string) error {
				if len(args) > 0 {
					return fmt.Errorf("%w: optimize replay: unexpected argument %q", ErrUsage, args[0])
				}
				if *dir == "" {
					return fmt.Errorf("%w: optimize replay needs --curves DIR", ErrUsage)
				}
				o, err := replay.ParseObjective(*objective)
				if err != nil {
					return fmt.Errorf("%w: --objective %q: want cost, min-resources, duration or balanced", ErrUsage, *objective)
				}
				switch {
				case *tolerance <= 0 || *tolerance >= 1:
					return fmt.Errorf("%w: --tolerance %v: a fraction between 0 and 1, such as 0.05", ErrUsage, *tolerance)
				case *maxInv < 1 || *maxInv > 1000:
					return fmt.Errorf("%w: --max-invocations %d: between 1 and 1000", ErrUsage, *maxInv)
				case *trials < 1 || *trials > 100000:
					return fmt.Errorf("%w: --trials %d: between 1 and 100000", ErrUsage, *trials)
				case *noise < 0 || *noise > 2:
					return fmt.Errorf("%w: --noise %v: a log-normal sigma between 0 and 2", ErrUsage, *noise)
				}
				curves, err := replay.Load(*dir)
				if err != nil {
					return err
				}
				opts := replay.Options{Objective: o, Tolerance: *tolerance, MaxInvocations: *maxInv,
					Trials: *trials, Seed: *seed, Noise: *noise}
				if *noise == 0 {
					opts.Noise = -1 // none
				}
				res, err := replay.Run(ctx, curves, opts, runtime.GOMAXPROCS(0))
				if err != nil {
					return err
				}
				if s.g.json {
					// One line per file and trial (SPEC.md section 7).
					enc := json.NewEncoder(s.out)
					for _, ts := range res {
						for _, t := range ts {
							if err := enc.Encode(t); err != nil {
								return fmt.Errorf("cli: encode JSON: %w", err)
							}
						}
					}
					return nil
				}
				cmp := replay.Compare(curves, res, opts, replay.SourceGroup)
				return replayHuman(s.out, curves, res, cmp, opts, *objective)
			}
		}}
}

// replayHuman prints a table per file (how often each size was chosen,
// whether it is within 5% of the best) and the summary shares.
func replayHuman(w io.Writer, curves []replay.Curve, res [][]replay.Trial, cmp []replay.Comparison, opts replay.Options, objective string) error {
	for i, c := range curves {
		ts := res[i]
		tr := replay.NewTruth(c, opts.Tolerance)
		best := tr.Best(opts.Objective)
		fmt.Fprintf(w, "%s (%s): best for %s %d MB (%s)\n", c.File, c.Function, objective, best, roundMs(tr.MedianMs(best)))
		type row struct {
			n, inv, uncertain, predicted int
		}
		rows := map[int]*row{}
		for _, t := range ts {
			r := rows[t.MemoryMB]
			if r == nil {
				r = &row{}
				rows[t.MemoryMB] = r
			}
			r.n++
			r.inv += t.Invocations
			if t.Uncertain {
				r.uncertain++
			}
			if t.Predicted {
				r.predicted++
			}
		}
		mems := make([]int, 0, len(rows))
		for m := range rows {
			mems = append(mems, m)
		}
		sort.Ints(mems)
		var out [][]string
		for _, m := range mems {
			r := rows[m]
			ok, regret := tr.Judge(opts.Objective, m)
			verdict := "no"
			if ok {
				verdict = "yes"
			}
			if m == 0 {
				verdict = "no choice"
			}
			out = append(out, []string{
				sizeLabel(m), fmt.Sprintf("%d/%d", r.n, len(ts)), verdict, excessPct(regret),
				strconv.FormatFloat(float64(r.inv)/float64(r.n), 'f', 1, 64),
				fmt.Sprintf("%d", r.uncertain), fmt.Sprintf("%d", r.predicted),
			})
		}
		if err := table(w, []string{"  CHOSEN", "TRIALS", "WITHIN 5%", "EXCESS", "INVOCATIONS", "UNCERTAIN", "UNMEASURED"}, indentRows(out)); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Share of (file, trial) pairs within 5%% of the best (%s), search with %d invocations beside a Power Tuning-style grid:\n",
		objective, opts.MaxInvocations)
	var out [][]string
	for _, c := range cmp {
		out = append(out, []string{c.Group, fmt.Sprint(c.Curves), fmt.Sprint(c.Search.Pairs),
			fmt.Sprintf("%.0f%%", 100*c.Search.Share), strconv.FormatFloat(c.Search.Invocations, 'f', 1, 64),
			fmt.Sprintf("%.0f%%", 100*c.Grid.Share), fmt.Sprintf("%.0f%%", 100*c.GridBig.Share)})
	}
	return table(w, []string{"SOURCE", "FILES", "PAIRS", "SEARCH", "INVOCATIONS", fmt.Sprintf("GRID %d", opts.MaxInvocations), fmt.Sprintf("GRID %d", replay.BigGrid)}, out)
}

func sizeLabel(m int) string {
	if m == 0 {
		return "-"
	}
	return fmt.Sprintf("%d MB", m)
}

func excessPct(x float64) string {
	if x > 10 {
		return "inf"
	}
	return fmt.Sprintf("%.0f%%", 100*x)
}

func roundMs(ms float64) string {
	switch {
	case ms >= 10000:
		return fmt.Sprintf("%.1f s", ms/1000)
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	default:
		return fmt.Sprintf("%.1f ms", ms)
	}
}

func indentRows(rows [][]string) [][]string {
	for _, r := range rows {
		r[0] = "  " + r[0]
	}
	return rows
}
