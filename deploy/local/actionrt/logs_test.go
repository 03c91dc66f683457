package actionrt

import (
	"bufio"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

var userLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr): (.*)$`)

// stripTimes checks each line's timestamp format and returns the rest.
func stripTimes(t *testing.T, logs []string) []string {
	t.Helper()
	var out []string
	for _, l := range logs {
		m := userLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("log line %q does not match %v", l, userLine)
		}
		out = append(out, m[1]+": "+m[2])
	}
	return out
}

func TestLogsCaptured(t *testing.T) {
	t.Parallel()
	o, _ := testOptions(t)
	p := newTestPool(t, o)
	cases := []struct {
		name   string
		action Action
		want   [][]string // per run
	}{
		{
			name: "node",
			action: node("node-logs", `console.log('loading');
function main(p) { console.log('hello', p.n); console.error('oops'); process.stdout.write('no newline'); return {}; }`),
			want: [][]string{
				{"stdout: loading", "stdout: hello 1", "stderr: oops", "stdout: no newline"},
				{"stdout: hello 2", "stderr: oops", "stdout: no newline"},
			},
		},
		{
			name:   "python",
			action: python("py-logs", "import sys\nprint('loading')\ndef main(args):\n    print('hello', args['n'])\n    print('oops', file=sys.stderr)\n    sys.stdout.write('no newline')\n    return {}\n"),
			want: [][]string{
				{"stdout: loading", "stdout: hello 1", "stderr: oops", "stdout: no newline"},
				{"stdout: hello 2", "stderr: oops", "stdout: no newline"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for i, want := range tc.want {
				res := run(t, p, tc.action, fmt.Sprintf(`{"n":%d}`, i+1))
				got := stripTimes(t, res.Logs)
				// Streams are separate pipes: compare each stream's order.
				for _, stream := range []string{"stdout", "stderr"} {
					if g, w := only(got, stream), only(want, stream); strings.Join(g, "\n") != strings.Join(w, "\n") {
						t.Errorf("run %d %s logs = %q, want %q", i+1, stream, g, w)
					}
				}
				for _, l := range res.Logs {
					if strings.Contains(l, sentinel) {
						t.Errorf("sentinel not stripped: %q", l)
					}
				}
			}
		})
	}
}

func only(lines []string, stream string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, stream+": ") {
			out = append(out, l)
		}
	}
	return out
}

func TestLogLimit(t *testing.T) {
	t.Parallel()
	o, _ := testOptions(t)
	p := newTestPool(t, o)
	a := node("limit", `function main() { for (let i = 0; i < 100; i++) console.log('x'.repeat(49)); return {}; }`)
	a.LogLimitBytes = 1000
	for i := range 2 { // the second run (warm) must get a fresh budget
		res := run(t, p, a, "")
		if res.StatusCode != 0 {
			t.Fatalf("run %d status %d: %s", i, res.StatusCode, res.Result)
		}
		if len(res.Logs) != 21 {
			t.Errorf("run %d: %d log lines, want 20 + truncation notice", i, len(res.Logs))
		}
		last := res.Logs[len(res.Logs)-1]
		if !strings.HasSuffix(last, " stderr: Logs were truncated because the total bytes size exceeds the limit of 1000 bytes.") {
			t.Errorf("run %d: last line %q", i, last)
		}
	}
}

// TestLogFormat pins the OpenWhisk line format: Docker's fixed-nanos
// timestamp for action output, Java's millis for the lines OpenWhisk adds,
// both padded to 30 columns (see contract couch-activation*.json).
func TestLogFormat(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 1, 10, 40, 1, 418000000, time.FixedZone("x", 3600))
	cases := []struct {
		name  string
		entry logEntry
		want  string
	}{
		{"stdout", logEntry{t: at, stream: stdout, text: "handling request\n"}, "2024-05-01T09:40:01.418000000Z stdout: handling request"},
		{"stderr trimmed", logEntry{t: at, stream: stderr, text: "  oops \r"}, "2024-05-01T09:40:01.418000000Z stderr: oops"},
		{"synthetic", logEntry{t: at, stream: stderr, text: msgLogsMissing, synthetic: true}, "2024-05-01T09:40:01.418Z       stderr: " + msgLogsMissing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.entry.format(); got != tc.want {
				t.Errorf("format = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLogSinkEpochs(t *testing.T) {
	t.Parallel()
	s := newLogSink()
	feed := func(stream int, lines ...string) {
		s.readStream(strings.NewReader(strings.Join(lines, "\n")+"\n"), stream, 100)
	}
	// Simulate streams directly: run 1 ends, then a late line belongs to run 2.
	s.add(stdout, "a")
	s.mark(stdout)
	s.add(stdout, "late")
	s.add(stderr, "b")
	s.mark(stderr)
	got, complete := s.collect(context.Background(), time.Second)
	if !complete || len(got) != 2 || !strings.HasSuffix(got[0], "stdout: a") || !strings.HasSuffix(got[1], "stderr: b") {
		t.Fatalf("run 1 = %q complete %v", got, complete)
	}
	feed(stderr, "c", sentinel)
	feed(stdout, "tail"+sentinel)
	got, complete = s.collect(context.Background(), time.Second)
	if want := []string{"stdout: late", "stderr: c", "stdout: tail"}; !complete || strings.Join(stripTimes(t, got), "|") != strings.Join(want, "|") {
		t.Fatalf("run 2 = %q complete %v, want %q", got, complete, want)
	}
}

func TestReadLineCutsLongLines(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, want string
	}{
		{"short", "abc\n", "abc"},
		{"cut", strings.Repeat("x", 50) + "\n", strings.Repeat("x", 10)},
		{"cut keeps sentinel", strings.Repeat("x", 50) + sentinel + "\n", strings.Repeat("x", 10) + sentinel},
		{"no newline", "abc", "abc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := readLine(bufio.NewReaderSize(strings.NewReader(tc.in), 16), 10)
			if string(got) != tc.want {
				t.Errorf("readLine = %q, want %q", got, tc.want)
			}
		})
	}
}
