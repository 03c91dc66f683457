package couch

import (
	"errors"
	"net/http"
)

// The CouchDB error vocabulary. Every package above couch/ tests errors
// with errors.Is against these, never with kivik's HTTP status: Classify
// (which every error of this package's own calls already went through
// where noted) puts the right one in an error's chain and keeps the cause,
// so the message stays kivik's and kivik.HTTPStatus still reads it.
var (
	// ErrNotFound: no such document, attachment or database (HTTP 404).
	ErrNotFound = errors.New("couch: not found")
	// ErrConflict: the write names a revision that is not the current one,
	// or the document exists already (HTTP 409).
	ErrConflict = errors.New("couch: document update conflict")
	// ErrExists: the database exists already (HTTP 412 on create).
	ErrExists = errors.New("couch: already exists")
	// ErrUnauthorized: CouchDB refuses the credentials (HTTP 401).
	ErrUnauthorized = errors.New("couch: unauthorized")
	// ErrForbidden: the credentials lack the right (HTTP 403).
	ErrForbidden = errors.New("couch: forbidden")
	// ErrUnavailable: CouchDB (or what stands before it) could not answer
	// now: 5xx, 408 or 429. Worth retrying.
	ErrUnavailable = errors.New("couch: unavailable")
)

// Error is an error of CouchDB's with its class. Its message is the
// cause's; errors.Is matches both Kind and anything in the cause's chain.
type Error struct {
	Kind error // one of the Err* above
	Err  error // the cause, as kivik (or the Batcher) reported it
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the class and the cause.
func (e *Error) Unwrap() []error { return []error{e.Kind, e.Err} }

// Classify returns err with its class (ErrNotFound, ErrConflict…) in its
// chain where its HTTP status has one, and err itself otherwise (nil for
// nil). It is idempotent.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var ce *Error
	if errors.As(err, &ce) {
		return err
	}
	kind := kindOf(Status(err))
	if kind == nil {
		return err
	}
	return &Error{Kind: kind, Err: err}
}

func kindOf(status int) error {
	switch {
	case status == http.StatusNotFound:
		return ErrNotFound
	case status == http.StatusConflict:
		return ErrConflict
	case status == http.StatusPreconditionFailed:
		return ErrExists
	case status == http.StatusUnauthorized:
		return ErrUnauthorized
	case status == http.StatusForbidden:
		return ErrForbidden
	case status >= 500, status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return ErrUnavailable
	}
	return nil
}

// Status is the HTTP status a CouchDB error carries (kivik gives network
// errors 502), or 0 when it carries none (a context's error, an encoding
// error). For messages that name it; decide with errors.Is.
func Status(err error) int {
	var coder interface{ HTTPStatus() int }
	if !errors.As(err, &coder) {
		return 0
	}
	return coder.HTTPStatus()
}

// IsNotFound reports whether err is (or wraps) a CouchDB 404.
func IsNotFound(err error) bool { return errors.Is(Classify(err), ErrNotFound) }

// IsConflict reports whether err is (or wraps) a CouchDB 409.
func IsConflict(err error) bool { return errors.Is(Classify(err), ErrConflict) }
