package controller

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// OpenWhisk's error texts (common/scala/.../http/ErrorResponse.scala
// Messages) and the pekko rejection texts its rejection handler wraps.
const (
	msgNotFound            = "The requested resource does not exist."
	msgConflict            = "Concurrent modification to resource detected."
	msgExists              = "resource already exists"
	msgConformance         = "Resource by this name exists but is not in this collection."
	msgAuthMissing         = "The resource requires authentication, which was not supplied with the request"
	msgAuthRejected        = "The supplied authentication is invalid"
	msgUnauthorized        = "The request has not been applied because it lacks valid authentication credentials for the target resource."
	msgInternal            = "There was an internal server error."
	msgUnavailable         = "The server is currently unavailable (because it is overloaded or down for maintenance)."
	msgEntityNameIllegal   = "The name of the entity contains illegal characters."
	msgActivationIDIllegal = "The activation id is not valid."
	msgSequenceTooLong     = "Too many actions in the sequence."
	msgSequenceNoComponent = "No component specified for the sequence."
	msgSequenceCyclic      = "Sequence may not refer to itself."
	msgSequenceNotFound    = "Sequence component does not exist."
	msgSequenceFailure     = "Sequence failed."
	msgBindingNotExist     = "Binding references a package that does not exist."
	msgPackageToBinding    = "Resource is a package and cannot be converted into a binding."
	msgBindingToBinding    = "Cannot bind to another package binding."
	msgBindingNotPackage   = "Cannot bind to a resource that is not a package."
	msgNotAllowedOnBinding = "Operation not permitted on package binding."
	msgParamsNotAllowed    = "Request defines parameters that are not allowed (e.g., reserved properties)."
	msgDocsWithCount       = "The parameter 'docs' is not permitted with 'count'."
	msgPropertyNotFound    = "Response does not include requested property."
	msgHTTPUnknownCT       = "Response did not specify a known content-type."
	msgHTTPContentType     = "Response type in header did not match generated content type."
	msgErrorProcessing     = "There was an error processing your request."
	msgResponseNotReady    = "Response not yet ready."
	msgNoRouteFound        = "The requested resource could not be found."
	msgRuleNeedsTrigger    = "Only rules with existing triggers can be activated"
	msgRuleNeedsBoth       = "rule requires a valid trigger and a valid action"
	msgExecUndefined       = "exec undefined"
)

func msgForbidden(resource string) string {
	return fmt.Sprintf("The supplied authentication is not authorized to access '%s'.", resource)
}

func msgEntityTooBig(field string, is, allowed int64) string {
	return fmt.Sprintf("%s larger than allowed: %d > %d bytes.", field, is, allowed)
}

func msgNameTooLong(n int) string {
	return fmt.Sprintf("Name segement longer than allowed: %d > %d.", n, maxNameLength)
}

func msgInvalidTimeout(maxMS int64) string {
	return fmt.Sprintf("Timeout must be number of milliseconds up to %d.", maxMS)
}

func msgSequenceTimeout(id string) string {
	return fmt.Sprintf("Timeout reached when retrieving activation %s for sequence component.", id)
}

func msgRuleInactive(rule, action string) string {
	return fmt.Sprintf("Rule '%s' is inactive, action '%s' was not activated.", rule, action)
}

func msgPackageReserved(name string) string {
	return fmt.Sprintf("Package name '%s' is reserved.", name)
}

func msgInvalidMedia(mediaType string) string {
	return fmt.Sprintf("Response is not valid '%s'.", mediaType)
}

// msgMalformedQuery wraps a query parameter error as pekko does.
func msgMalformedQuery(param, detail string) string {
	return fmt.Sprintf("The query parameter '%s' was malformed:\n%s", param, detail)
}

// msgMalformedBody wraps a body error as pekko does.
func msgMalformedBody(detail string) string {
	return "The request content was malformed:\n" + detail
}

// apiError is an error answered as {"error","code"} with a status.
type apiError struct {
	status int
	msg    string
	// header, when set, is added to the response (WWW-Authenticate).
	header http.Header
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.status, e.msg) }

func errStatus(status int, msg string) *apiError { return &apiError{status: status, msg: msg} }

func badRequest(msg string) *apiError { return errStatus(http.StatusBadRequest, msg) }

var (
	errNotFound    = errStatus(http.StatusNotFound, msgNotFound)
	errConformance = errStatus(http.StatusConflict, msgConformance)
	errConflict    = errStatus(http.StatusConflict, msgConflict)
	errInternal    = errStatus(http.StatusInternalServerError, msgInternal)
)

// asAPIError turns any error into the apiError answered for it.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, errDocNotFound) {
		return errNotFound
	}
	if errors.Is(err, errDocConflict) {
		return errConflict
	}
	if errors.Is(err, errWrongType) {
		return errConformance
	}
	return errInternal
}

// tidKey carries the transaction id in a request context.
type tidKey struct{}

func withTID(ctx context.Context, tid string) context.Context {
	return context.WithValue(ctx, tidKey{}, tid)
}

func tidFrom(ctx context.Context) string {
	if s, ok := ctx.Value(tidKey{}).(string); ok {
		return s
	}
	return newTID()
}

const tidAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newTID returns a 32-character alphanumeric transaction id.
func newTID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = tidAlphabet[int(b[i])%len(tidAlphabet)]
	}
	return string(b)
}

// newActivationID returns 32 lowercase hex characters.
func newActivationID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// writeJSON writes v as the response body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status, buf = http.StatusInternalServerError, *bytes.NewBufferString(`{"error":"There was an internal server error."}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(bytes.TrimRight(buf.Bytes(), "\n"))
}

// writeRaw writes an already encoded JSON body.
func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError answers err in OpenWhisk's error shape.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := asAPIError(err)
	for k, vs := range ae.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	writeJSON(w, ae.status, entity.Error{Error: ae.msg, Code: tidFrom(r.Context())})
}
