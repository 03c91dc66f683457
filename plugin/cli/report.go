package cli

import (
	"fmt"
	"io"
	"math"
	"net/url"
	"strings"

	"github.com/fnmgr/fnmgr/optimizer/report"
	"github.com/fnmgr/fnmgr/optimizer/search"
	"github.com/fnmgr/fnmgr/plugin/client"
)

// The result of `fnmgr optimize` for a person: a summary read at a glance
// (the recommended size against the current one, the change in time and
// cost, how sure it is, what it spent, where its chart is) and a table of
// the sizes measured, numbers rounded. --json prints the run as it came,
// report and all. The report is the optimizer's own type (optimizer/report,
// optimizer/search), as the admin API serves it.

// optimizationResult prints the run's outcome: the summary, then the
// table of measured sizes, then the warnings. chart is the chart's URL.
func optimizationResult(w io.Writer, name, chart string, o client.Optimization) error {
	fmt.Fprintf(w, "optimization %s of %s: %s\n", o.ID, name, o.Status)
	if o.Error != "" {
		fmt.Fprintf(w, "error: %s\n", o.Error)
	}
	r := o.Report
	if r == nil {
		return nil
	}
	var kv [][2]string
	if rec := r.Recommendation; rec != nil {
		line := fmt.Sprintf("%d MB (now %d MB)", rec.MemoryMB, r.Current.MemoryMB)
		switch {
		case rec.MemoryMB == r.Current.MemoryMB:
			line = fmt.Sprintf("%d MB, as now", rec.MemoryMB)
		case r.Current.MemoryMB == 0:
			line = fmt.Sprintf("%d MB", rec.MemoryMB)
		}
		if rec.Predicted {
			line += ", predicted by the fit: not measured"
		}
		if rec.Source == "passive" {
			line += ", from real traffic"
		}
		kv = append(kv, [2]string{"recommended", line})
		if rec.GPUNum != nil {
			g := fmt.Sprintf("gpuNum %d", *rec.GPUNum)
			if rec.GPUMemorySize != nil && rec.GPUPercentage != nil {
				g += fmt.Sprintf(", gpuMemorySize %d MB, gpuPercentage %d%%", *rec.GPUMemorySize, *rec.GPUPercentage)
			}
			kv = append(kv, [2]string{"GPU", g})
		}
	} else if o.Status == client.OptimizationSucceeded {
		kv = append(kv, [2]string{"recommended", "nothing: see the warnings and --json"})
	}
	if s := r.Saving; s != nil {
		est := ""
		switch {
		case s.CurrentInfeasible:
			est = " (the current size failed)"
		case s.CurrentUnmeasured:
			est = " (the current size was not measured)"
		case s.CurrentEstimated:
			est = " (the current size's time is interpolated)"
		}
		kv = append(kv, [2]string{"time", fmt.Sprintf("%s (%s → %s per invocation)%s", pct(change(s.CurrentMs, s.RecommendedMs)),
			ms(s.CurrentMs), ms(s.RecommendedMs), est)})
		kv = append(kv, [2]string{"cost", fmt.Sprintf("%s (%s → %s GB-s per invocation)", pct(-s.GBSecondsSavedPct),
			sig(s.CurrentGBSeconds), sig(s.RecommendedGBs))})
	}
	if rec := r.Recommendation; r.Saving == nil && rec != nil {
		// Said rather than left out: the recommended size has no warm
		// measurement to compare (a size chosen on the fit), or its runs
		// were all under OpenWhisk's resolution of 1 ms.
		line := fmt.Sprintf("unknown: %d MB has no warm measurement (see the table)", rec.MemoryMB)
		if p := pointAt(r, rec.MemoryMB); p != nil && p.Stats.N > 0 && p.Stats.MedianMs == 0 {
			line = fmt.Sprintf("under 1 ms per invocation at %d MB, below OpenWhisk's resolution of 1 ms: no size is faster", rec.MemoryMB)
		}
		kv = append(kv, [2]string{"time", line})
	}
	if c := confidence(r); c != "" {
		kv = append(kv, [2]string{"confidence", c})
	}
	if a := r.Active; a != nil && a.CPUModel.Model != "" {
		kv = append(kv, [2]string{"CPU model", strings.TrimSpace(a.CPUModel.Model + suffix(": ", a.CPUModel.Note))})
	}
	kv = append(kv, [2]string{"invocations", fmt.Sprintf("%d of %d (%s GB-s)", r.Invocations, o.Progress.Total, sig(r.GBSeconds))})
	if r.Applied != nil {
		if r.Applied.Error != "" {
			kv = append(kv, [2]string{"applied", "no: " + r.Applied.Error})
		} else {
			kv = append(kv, [2]string{"applied", "yes"})
		}
	}
	if r.GPU != nil && r.GPU.Unavailable != "" {
		kv = append(kv, [2]string{"GPU", r.GPU.Unavailable})
	}
	if chart != "" {
		kv = append(kv, [2]string{"chart", chart})
	}
	fmt.Fprintln(w)
	if err := fields(w, kv); err != nil {
		return err
	}
	if a := r.Active; a != nil && len(a.Points) > 0 {
		fmt.Fprintln(w)
		if err := pointsTable(w, a.Points, a.Decision.MemoryMB); err != nil {
			return err
		}
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintln(w, "\nwarnings:")
		for _, x := range r.Warnings {
			fmt.Fprintf(w, "  - %s\n", x)
		}
	}
	return nil
}

// confidence says how sure the choice is: settled by the statistics, or
// not (and why), or uncertain within a range.
func confidence(r *report.Report) string {
	a := r.Active
	if a == nil {
		if r.Recommendation != nil && r.Recommendation.Source == "passive" {
			return "from real traffic's statistics"
		}
		return ""
	}
	var c string
	switch {
	case a.Uncertain && a.RangeMB[1] > 0:
		c = fmt.Sprintf("uncertain: sizes from %d to %d MB are not told apart", a.RangeMB[0], a.RangeMB[1])
	case a.Settled:
		c = "settled: every comparison cleared the 95% bound"
	default:
		c = "not settled"
		if a.StopReason != "" {
			c += " (" + a.StopReason + ")"
		}
	}
	return c
}

// pointsTable lists the measured sizes, the chosen one marked.
func pointsTable(w io.Writer, pts []search.Point, chosen int) error {
	rows := make([][]string, 0, len(pts))
	for _, p := range pts {
		mark := ""
		if p.MemoryMB == chosen {
			mark = "←"
		}
		result := string(p.Feasibility)
		if p.Failure != "" {
			result += " (" + string(p.Failure) + ")"
		}
		rng := "-"
		if p.Stats.CILowMs > 0 && p.Stats.CIHighMs > 0 {
			rng = ms(p.Stats.CILowMs) + "–" + ms(p.Stats.CIHighMs)
		}
		median, cost := "-", "-"
		switch {
		case p.Stats.MedianMs > 0:
			median = ms(p.Stats.MedianMs)
		case p.Stats.N > 0:
			median = "<1 ms" // OpenWhisk's durations are whole milliseconds
		}
		if p.GBSeconds > 0 {
			cost = sig(p.GBSeconds)
		}
		rows = append(rows, []string{fmt.Sprintf("%d MB", p.MemoryMB), result, fmt.Sprintf("%d+%d", len(p.Cold), len(p.Warm)),
			median, rng, cost, mark})
	}
	return table(w, []string{"MEMORY", "RESULT", "RUNS (COLD+WARM)", "MEDIAN", "95% RANGE", "GB-S/INVOCATION", ""}, rows)
}

// pointAt is the measured point of r's active search at memoryMB, or nil.
func pointAt(r *report.Report, memoryMB int) *search.Point {
	if r.Active == nil {
		return nil
	}
	for i := range r.Active.Points {
		if r.Active.Points[i].MemoryMB == memoryMB {
			return &r.Active.Points[i]
		}
	}
	return nil
}

// change is the relative change from a to b in percent (0 when a is 0).
func change(a, b float64) float64 {
	if a == 0 {
		return 0
	}
	return 100 * (b - a) / a
}

// pct formats a change: "-48%", "+3%", "±0%".
func pct(p float64) string {
	r := math.Round(p)
	switch {
	case r == 0:
		return "±0%"
	case r > 0:
		return fmt.Sprintf("+%.0f%%", r)
	}
	return fmt.Sprintf("%.0f%%", r)
}

// ms formats a duration in milliseconds: whole ms from 10 ms, one decimal
// below, seconds from 10 s.
func ms(v float64) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%.1f s", v/1000)
	case v >= 10:
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.1f ms", v)
}

// sig formats a number to three significant digits.
func sig(v float64) string {
	if v == 0 {
		return "0"
	}
	return fmt.Sprintf("%.3g", v)
}

// chartURL is the admin API's URL of run id's chart.
func chartURL(base, ns, name, id string) string {
	return strings.TrimRight(base, "/") + "/v1/namespaces/" + url.PathEscape(ns) + "/functions/" + url.PathEscape(name) +
		"/optimizations/" + url.PathEscape(id) + "/chart.svg"
}
