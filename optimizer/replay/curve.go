// Package replay runs the optimizer's search, unchanged, against measured
// memory/duration curves instead of a live action (SPEC.md section 7,
// `fnmgr optimize replay`): a Prober answers each invocation with one of
// the durations recorded at that size, drawn at random, and a scorer
// judges the choice against the curve's own medians, beside a Power
// Tuning-style grid scored the same way.
//
// It imports nothing under plugin/: the CLI drives it.
package replay

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Point is one memory size of a curve and the durations measured there
// (ms).
type Point struct {
	MemoryMB  int       `json:"memoryMB"`
	Durations []float64 `json:"durations"`
}

// Curve is one function's measurements: points ascending by memory, one
// per size.
type Curve struct {
	// File is the file's base name; Source the "source" key, if any.
	File     string  `json:"file"`
	Function string  `json:"function,omitempty"`
	Source   string  `json:"source,omitempty"`
	Points   []Point `json:"points"`
}

// Sizes are the curve's memory sizes, ascending: the search's candidates.
func (c Curve) Sizes() []int {
	out := make([]int, len(c.Points))
	for i, p := range c.Points {
		out[i] = p.MemoryMB
	}
	return out
}

// rawPoint accepts the spellings found in published measurements:
// memoryMB (SPEC), memory, memorySize, power or value (AWS Lambda Power
// Tuning: its executors' stats are {value, averagePrice, averageDuration,
// totalCost}, read by lambda/analyzer.js); durations, or a single
// duration / averageDuration.
type rawPoint struct {
	MemoryMB        *float64  `json:"memoryMB"`
	Memory          *float64  `json:"memory"`
	MemorySize      *float64  `json:"memorySize"`
	Power           *float64  `json:"power"`
	Value           *float64  `json:"value"`
	Durations       []float64 `json:"durations"`
	Duration        *float64  `json:"duration"`
	AverageDuration *float64  `json:"averageDuration"`
}

type rawCurve struct {
	Function string     `json:"function"`
	Name     string     `json:"name"`
	Source   string     `json:"source"`
	Unit     string     `json:"unit"`
	Points   []rawPoint `json:"points"`
	// Stats is AWS Lambda Power Tuning's per-size statistics ({"value",
	// "averageDuration", ...}, the duration an average in ms).
	Stats []rawPoint `json:"stats"`
}

// Parse reads one curve file's contents; name is the file's base name.
// Keys other than those above are ignored; the unit may be "ms" (default),
// "s" or "us". A point without a memory size or without a positive
// duration, a size given twice, or a curve without points is an error.
func Parse(name string, b []byte) (Curve, error) {
	var r rawCurve
	if err := json.Unmarshal(b, &r); err != nil {
		return Curve{}, fmt.Errorf("replay: %s: %w", name, err)
	}
	c := Curve{File: name, Function: r.Function, Source: r.Source}
	if c.Function == "" {
		c.Function = r.Name
	}
	if c.Function == "" {
		c.Function = strings.TrimSuffix(name, filepath.Ext(name))
	}
	scale := 1.0
	switch strings.ToLower(strings.TrimSpace(r.Unit)) {
	case "", "ms", "millisecond", "milliseconds":
	case "s", "sec", "second", "seconds":
		scale = 1000
	case "us", "µs", "microsecond", "microseconds":
		scale = 0.001
	default:
		return Curve{}, fmt.Errorf("replay: %s: unknown unit %q (want ms, s or us)", name, r.Unit)
	}
	raw := r.Points
	if len(raw) == 0 {
		raw = r.Stats
	}
	if len(raw) == 0 {
		return Curve{}, fmt.Errorf("replay: %s: no points", name)
	}
	seen := map[int]bool{}
	for i, p := range raw {
		var mem *float64
		for _, m := range []*float64{p.MemoryMB, p.Memory, p.MemorySize, p.Power, p.Value} {
			if m != nil {
				mem = m
				break
			}
		}
		if mem == nil || *mem <= 0 || *mem != float64(int(*mem)) {
			return Curve{}, fmt.Errorf("replay: %s: point %d has no memory size in whole MB (memoryMB)", name, i)
		}
		m := int(*mem)
		if seen[m] {
			return Curve{}, fmt.Errorf("replay: %s: %d MB appears twice", name, m)
		}
		seen[m] = true
		ds := p.Durations
		if len(ds) == 0 {
			for _, d := range []*float64{p.Duration, p.AverageDuration} {
				if d != nil {
					ds = []float64{*d}
					break
				}
			}
		}
		var out []float64
		for _, d := range ds {
			if !(d > 0) { // also NaN
				return Curve{}, fmt.Errorf("replay: %s: %d MB has a duration that is not positive (%v)", name, m, d)
			}
			out = append(out, d*scale)
		}
		if len(out) == 0 {
			return Curve{}, fmt.Errorf("replay: %s: %d MB has no durations", name, m)
		}
		c.Points = append(c.Points, Point{MemoryMB: m, Durations: out})
	}
	sort.Slice(c.Points, func(i, j int) bool { return c.Points[i].MemoryMB < c.Points[j].MemoryMB })
	return c, nil
}

// Load reads every *.json file of dir (not its subfolders), in name
// order. A file that does not parse is an error naming it.
func Load(dir string) ([]Curve, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	sort.Strings(names)
	var out []Curve
	var errs []error
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			errs = append(errs, fmt.Errorf("replay: %w", err))
			continue
		}
		c, err := Parse(filepath.Base(n), b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("replay: no *.json curve files in %s", dir)
	}
	return out, nil
}
