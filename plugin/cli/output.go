package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// emit prints v as indented JSON with --json, else runs human.
func (s *Session) emit(v any, human func(w io.Writer) error) error {
	if s.g.json {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("cli: encode JSON: %w", err)
		}
		_, err = fmt.Fprintf(s.out, "%s\n", b)
		return err
	}
	return human(s.out)
}

// okf prints wsk's "ok: …" line of a change, or v with --json.
func (s *Session) okf(v any, format string, args ...any) error {
	return s.emit(v, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "ok: "+format+"\n", args...)
		return err
	})
}

// table writes rows under headers, aligned in columns as wsk does.
func table(w io.Writer, headers []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	if len(headers) > 0 {
		fmt.Fprintln(tw, strings.Join(headers, "\t"))
	}
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// fields writes "key: value" lines, keys aligned.
func fields(w io.Writer, kv [][2]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, p := range kv {
		fmt.Fprintf(tw, "%s:\t%s\n", p[0], p[1])
	}
	return tw.Flush()
}

// when formats a time in the local zone, "-" when unset.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// shortDigest keeps the algorithm and 12 hex digits.
func shortDigest(d string) string {
	alg, hex, ok := strings.Cut(d, "-")
	if !ok || len(hex) <= 12 {
		return d
	}
	return alg + "-" + hex[:12]
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }

// optInt formats an optional number, "-" when unset.
func optInt(p *int, unit string) string {
	if p == nil {
		return "-"
	}
	return strconv.Itoa(*p) + unit
}
