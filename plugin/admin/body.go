package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/fnmgr/fnmgr/plugin/httpapi"
)

// decodeBody reads r's JSON body into v. On failure it answers (413 past
// the body limit, 400 otherwise) and returns false.
func (a *API) decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		// More() misses a stray '}' or ']'; only the end may follow.
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("unexpected data after the JSON value")
		}
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		a.tooLarge(w, r)
		return false
	}
	httpapi.WriteError(w, r, http.StatusBadRequest, fmt.Sprintf("The request body is not valid JSON for this operation: %s.", bodyProblem(err)))
	return false
}
