package stack

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// childOutput takes a child's stdout and stderr: it appends everything to
// the log file as is, copies each line to the console with a prefix, and
// keeps the last lines for error messages.
type childOutput struct {
	mu      sync.Mutex
	file    io.Writer
	console io.Writer
	prefix  string
	partial []byte
	last    []string
	keep    int
}

func newChildOutput(file, console io.Writer, prefix string) *childOutput {
	return &childOutput{file: file, console: console, prefix: prefix, keep: 20}
}

func (o *childOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, _ = o.file.Write(p) // a full disk must not stop the child
	o.partial = append(o.partial, p...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		o.line(string(o.partial[:i]))
		o.partial = o.partial[i+1:]
	}
	return len(p), nil
}

func (o *childOutput) line(s string) {
	_, _ = io.WriteString(o.console, o.prefix+s+"\n")
	o.last = append(o.last, s)
	if len(o.last) > o.keep {
		o.last = o.last[len(o.last)-o.keep:]
	}
}

// flush emits a last line that had no newline.
func (o *childOutput) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.partial) > 0 {
		o.line(string(o.partial))
		o.partial = nil
	}
}

// tail returns the last lines, for an error message.
func (o *childOutput) tail() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.last) == 0 {
		return ""
	}
	return "\n" + strings.Join(o.last, "\n")
}
