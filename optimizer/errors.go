package optimizer

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// requestError is an error the caller of the optimizer caused. It wraps
// the sentinel that gives its kind (ErrInvalid, ErrNotFound…) and
// carries the sentence a client reads (Sentence: fnmgr's admin API shows
// it, see plugin/reqerr.Sentencer), so nothing downstream edits its text.
type requestError struct {
	field string // the request field the message starts with, as sent; "" for a sentence
	msg   string
	kind  error
}

func (e *requestError) Error() string { return "optimizer: " + e.msg }

func (e *requestError) Unwrap() error { return e.kind }

// Sentence is the message with a final full stop; one not about a field
// starts with a capital.
func (e *requestError) Sentence() string {
	s := e.msg
	if e.field == "" {
		r, n := utf8.DecodeRuneInString(s)
		s = string(unicode.ToUpper(r)) + s[n:]
	}
	return s + "."
}

func requestErr(kind error, format string, args ...any) error {
	return &requestError{msg: fmt.Sprintf(format, args...), kind: kind}
}

// invalid is a request the optimizer refuses, worded as a sentence.
func invalid(format string, args ...any) error {
	return requestErr(ErrInvalid, format, args...)
}

// invalidField is a refused request field (as the client sent it:
// "maxInvocations", "payloads[0]"); the message starts with its name.
func invalidField(field, format string, args ...any) error {
	return &requestError{field: field, msg: field + " " + fmt.Sprintf(format, args...), kind: ErrInvalid}
}
