package couchdb

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
)

// lineWriter hands each complete line written to it to fn. Lines longer than
// maxLine are cut. It is written to by one os/exec copying goroutine.
type lineWriter struct {
	fn  func(string)
	buf []byte
}

const maxLine = 4096

func (w *lineWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			w.buf = append(w.buf, b...)
			if len(w.buf) > maxLine {
				w.flush()
			}
			break
		}
		w.buf = append(w.buf, b[:i]...)
		w.flush()
		b = b[i+1:]
	}
	return n, nil
}

func (w *lineWriter) flush() {
	line := strings.TrimRight(string(w.buf), "\r")
	w.buf = w.buf[:0]
	if line != "" {
		w.fn(line)
	}
}

// tail keeps the last n lines added to it.
type tail struct {
	mu    sync.Mutex
	n     int
	lines []string
}

func newTail(n int) *tail { return &tail{n: n} }

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > t.n {
		t.lines = t.lines[len(t.lines)-t.n:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// suffix formats the tail for the end of an error message.
func (t *tail) suffix() string {
	s := t.String()
	if s == "" {
		return "; stderr was empty"
	}
	return "; stderr tail:\n" + s
}

// queryRE is a request line's query string: pouchdb-server logs every
// request, and a view lookup of OpenWhisk's subjects carries an API key in
// its query (key=["uuid","key"]).
var queryRE = regexp.MustCompile(`\?[^ ]*`)

// redactQuery drops query strings from a server log line, so no key read
// through a view reaches the stack's log.
func redactQuery(line string) string { return queryRE.ReplaceAllString(line, "?…") }
