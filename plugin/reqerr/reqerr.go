// Package reqerr is the vocabulary of request errors that fnmgr's
// controllers (versions, lifecycle, the admin API) return and the admin API
// answers: a small set of kinds, each mapped to its HTTP status in one
// place (Kind.Status), and an Error that carries the sentence a client
// reads, written where the error is made, so nothing downstream edits
// error strings.
//
// A field error (Field) starts with the name of the request field as the
// client sent it ("memorySize", "limits.memory", "payloads[0]") and keeps
// it as is; any other message reads as a sentence (first letter capital,
// full stop).
package reqerr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"unicode"
	"unicode/utf8"
)

// Kind classifies a request error. Its values are the bounded "category"
// label of fnmgr's error metrics.
type Kind string

// The kinds, with the HTTP status each answers.
const (
	Invalid     Kind = "invalid"     // 400: the request is malformed or out of range
	NotFound    Kind = "not_found"   // 404: no such function, version or alias
	Conflict    Kind = "conflict"    // 409: not possible in the function's state
	Gone        Kind = "gone"        // 410: the function is RETIRED
	Locked      Kind = "locked"      // 423: the function is UPDATING
	Unavailable Kind = "unavailable" // 503: the request ended (cancelled, timed out) before it was done
	Internal    Kind = "internal"    // 500: anything else: fnmgr's fault, logged with the request id
)

// Kinds lists every kind (the values of the metric label).
var Kinds = []Kind{Invalid, NotFound, Conflict, Gone, Locked, Unavailable, Internal}

// Status is the HTTP status that answers an error of kind k.
func (k Kind) Status() int {
	switch k {
	case Invalid:
		return http.StatusBadRequest
	case NotFound:
		return http.StatusNotFound
	case Conflict:
		return http.StatusConflict
	case Gone:
		return http.StatusGone
	case Locked:
		return http.StatusLocked
	case Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// sentinel is the value errors.Is compares with for a kind.
type sentinel struct {
	kind Kind
	text string
}

func (s *sentinel) Error() string { return s.text }

// Sentinels, one per kind a caller can cause: errors.Is(err, ErrNotFound)
// holds for every *Error of that kind and for anything wrapping the
// sentinel itself.
var (
	ErrInvalid  error = &sentinel{Invalid, "invalid request"}
	ErrNotFound error = &sentinel{NotFound, "not found"}
	ErrConflict error = &sentinel{Conflict, "conflict"}
	ErrGone     error = &sentinel{Gone, "function is retired"}
	ErrLocked   error = &sentinel{Locked, "function is locked"}
)

func sentinelOf(k Kind) error {
	switch k {
	case Invalid:
		return ErrInvalid
	case NotFound:
		return ErrNotFound
	case Conflict:
		return ErrConflict
	case Gone:
		return ErrGone
	case Locked:
		return ErrLocked
	}
	return nil
}

// Error is a request error: its kind, the field it is about (if any) and
// the message a client reads.
type Error struct {
	Kind Kind
	// Field is the request field the message starts with, exactly as the
	// client sent it; "" for a message about no one field.
	Field string
	// Msg is the message without its final full stop; a field error's
	// starts with Field.
	Msg string
	// Err is the cause, if any: in the chain, not in the message (put in
	// Msg what a client and the log should read of it).
	Err error
}

// New returns an error of kind k whose message is format's.
func New(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Field returns an Invalid error about request field field (as the client
// sent it: "memorySize", "limits.memory", "payloads[0]"), whose message is
// field, a space, then format's.
func Field(field, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Field: field, Msg: field + " " + fmt.Sprintf(format, args...)}
}

// Wrap returns e with cause err.
func (e *Error) Wrap(err error) *Error {
	c := *e
	c.Err = err
	return &c
}

// Error is the message and the kind's sentinel ("gpuNum 9 must be between
// 0 and 8: invalid request"), as fmt.Errorf("…: %w", ErrInvalid) reads.
func (e *Error) Error() string {
	s := sentinelOf(e.Kind)
	switch {
	case s == nil && e.Msg == "":
		return string(e.Kind)
	case s == nil:
		return e.Msg
	case e.Msg == "":
		return s.Error()
	}
	return e.Msg + ": " + s.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of e's kind.
func (e *Error) Is(target error) bool { return target != nil && target == sentinelOf(e.Kind) }

// Sentence is the message as a client reads it: a field error as is (the
// field's name keeps its case), anything else with a capital first letter,
// each with a final full stop.
func (e *Error) Sentence() string {
	s := e.Msg
	if s == "" {
		s = e.Error()
	}
	if e.Field == "" {
		r, n := utf8.DecodeRuneInString(s)
		s = string(unicode.ToUpper(r)) + s[n:]
	}
	if s[len(s)-1] != '.' {
		s += "."
	}
	return s
}

// WithKind returns err with kind k's sentinel in its chain (for the
// errors of a package with sentinels of its own); its message and the
// sentence it carries are err's.
func WithKind(k Kind, err error) error {
	if s := sentinelOf(k); s != nil && err != nil {
		return &kinded{err: err, kind: s}
	}
	return err
}

type kinded struct{ err, kind error }

func (e *kinded) Error() string   { return e.err.Error() }
func (e *kinded) Unwrap() []error { return []error{e.err, e.kind} }

// KindOf classifies err: the kind of the first *Error or sentinel in its
// chain; Unavailable for a context's end; Internal for anything else.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var s *sentinel
	if errors.As(err, &s) {
		return s.kind
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Unavailable
	}
	return Internal
}

// Sentencer is an error that carries the sentence a client reads. *Error
// is one; a library that may not import this package (the optimizer)
// gives its request errors a Sentence method of its own.
type Sentencer interface {
	error
	Sentence() string
}

// fallback is what a client reads of an error of a kind that carries no
// sentence of its own (a store's not found or conflict).
var fallback = map[Kind]string{
	Invalid:     "The request is not valid.",
	NotFound:    "The requested resource does not exist.",
	Conflict:    "The request conflicts with a change made at the same time; try again.",
	Gone:        "The function is retired.",
	Locked:      "The function is being updated; try again when it is done.",
	Unavailable: "The request ended before fnmgr could complete it; try again.",
	Internal:    "fnmgr could not complete the request; see its log for the request id.",
}

// Sentence is what a client reads of err: the sentence of the first
// Sentencer in its chain, else a fixed sentence for its kind. An internal
// error's own text never reaches the client.
func Sentence(err error) string {
	k := KindOf(err)
	var s Sentencer
	if k != Internal && errors.As(err, &s) {
		return s.Sentence()
	}
	return fallback[k]
}
