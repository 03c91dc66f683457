package actionrt

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

const (
	// sentinel is what the proxy prints on stdout and stderr after each
	// activation, like OpenWhisk's action runtimes.
	sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
	// DefaultLogLimitBytes is OpenWhisk's default limits.logs (10 MB).
	DefaultLogLimitBytes = 10 << 20

	msgLogsMissing = "The action did not initialize or run as expected. Log data might be missing."
	msgLogFailure  = "There was an issue while collecting your logs. Data might be missing."

	// dockerTimeFormat is Docker's RFC3339NanoFixed in UTC, as stored
	// for user lines; javaTimeFormat resembles Java's Instant.toString,
	// which OpenWhisk uses for the lines it adds itself.
	dockerTimeFormat = "2006-01-02T15:04:05.000000000Z"
	javaTimeFormat   = "2006-01-02T15:04:05.000Z"
)

const (
	stdout = iota
	stderr
)

var streamNames = [2]string{"stdout", "stderr"}

type logEntry struct {
	t         time.Time
	stream    int
	text      string
	epoch     int  // the activation the line belongs to
	synthetic bool // added by us, not printed by the action
}

// format renders a line like OpenWhisk's DockerToActivationLogStore:
// f"$time%-30s $stream: ${log.trim}".
func (e logEntry) format() string {
	layout := dockerTimeFormat
	if e.synthetic {
		layout = javaTimeFormat
	}
	return fmt.Sprintf("%-30s %s: %s", e.t.UTC().Format(layout), streamNames[e.stream], strings.TrimSpace(e.text))
}

func syntheticLine(text string) string {
	return logEntry{t: time.Now(), stream: stderr, text: text, synthetic: true}.format()
}

// logSink collects a worker's stdout and stderr lines per activation.
// Each stream's sentinel count is the epoch of its next line, so output
// printed after an activation ended (a late timer) goes to the next
// activation, as with OpenWhisk's docker logs.
type logSink struct {
	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every change
	epoch    int           // activation being collected
	marks    [2]int        // sentinels seen per stream
	eof      [2]bool
	entries  []logEntry // entries of epoch >= epoch
	limit    int        // byte budget of the current epoch
	size     int        // bytes of the current epoch
	pending  int        // bytes of later epochs
	truncLim bool       // truncation notice added for the current epoch
}

func newLogSink() *logSink {
	return &logSink{changed: make(chan struct{}), limit: DefaultLogLimitBytes}
}

func (s *logSink) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// begin sets the byte limit of the activation about to run.
func (s *logSink) begin(limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = limit
}

func (s *logSink) add(stream int, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := logEntry{t: time.Now(), stream: stream, text: text, epoch: s.marks[stream]}
	switch {
	case e.epoch > s.epoch:
		// A later activation's output: keep it within the default budget.
		if s.pending+len(text) > DefaultLogLimitBytes {
			return
		}
		s.pending += len(text)
	case s.truncLim:
		return
	case s.size+len(text) > s.limit:
		s.truncLim = true
		e = logEntry{t: e.t, stream: stderr, epoch: s.epoch, synthetic: true,
			text: fmt.Sprintf("Logs were truncated because the total bytes size exceeds the limit of %d bytes.", s.limit)}
	default:
		s.size += len(text)
	}
	s.entries = append(s.entries, e)
	s.notifyLocked()
}

func (s *logSink) mark(stream int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.marks[stream]++
	s.notifyLocked()
}

func (s *logSink) close(stream int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.eof[stream] = true
	s.notifyLocked()
}

// collect waits until both streams ended the current activation (by
// sentinel or EOF) or until wait elapsed, then returns its lines
// formatted and whether both streams really ended.
func (s *logSink) collect(ctx context.Context, wait time.Duration) ([]string, bool) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		s.mu.Lock()
		done := true
		for i := range s.marks {
			done = done && (s.marks[i] > s.epoch || s.eof[i])
		}
		ch := s.changed
		if done {
			return s.takeLocked(), true
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			s.mu.Lock()
			return s.takeLocked(), false
		case <-ctx.Done():
			s.mu.Lock()
			return s.takeLocked(), false
		}
	}
}

// takeLocked returns the current epoch's lines and advances the epoch.
// It unlocks s.mu.
func (s *logSink) takeLocked() []string {
	defer s.mu.Unlock()
	var out []string
	rest := s.entries[:0:0]
	s.size, s.pending, s.truncLim = 0, 0, false
	for _, e := range s.entries {
		switch {
		case e.epoch <= s.epoch:
			out = append(out, e.format())
		case e.epoch == s.epoch+1:
			s.size += len(e.text)
			rest = append(rest, e)
		default:
			s.pending += len(e.text)
			rest = append(rest, e)
		}
	}
	s.entries = rest
	s.epoch++
	return out
}

// readStream feeds one pipe into the sink line by line until EOF.
// Lines longer than maxLine are cut.
func (s *logSink) readStream(r io.Reader, stream, maxLine int) {
	defer s.close(stream)
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := readLine(br, maxLine)
		if len(line) > 0 || err == nil {
			text := string(line)
			if before, ok := strings.CutSuffix(text, sentinel); ok {
				if before != "" {
					s.add(stream, before)
				}
				s.mark(stream)
			} else {
				s.add(stream, text)
			}
		}
		if err != nil {
			return
		}
	}
}

// readLine reads one line without its newline, keeping at most maxLen
// bytes of it (and the sentinel, should a cut line end with it). err is
// non-nil at the end of the stream.
func readLine(br *bufio.Reader, maxLen int) ([]byte, error) {
	var line, tail []byte
	cut := false
	for {
		frag, err := br.ReadSlice('\n')
		if room := maxLen - len(line); room < len(frag) {
			cut = true
			line = append(line, frag[:max(room, 0)]...)
		} else {
			line = append(line, frag...)
		}
		if cut {
			tail = append(tail, frag...)
			tail = tail[max(len(tail)-len(sentinel)-2, 0):]
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		line = trimNewline(line)
		if cut && bytes.HasSuffix(trimNewline(tail), []byte(sentinel)) && !bytes.HasSuffix(line, []byte(sentinel)) {
			line = append(line, sentinel...)
		}
		return line, err
	}
}

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}
