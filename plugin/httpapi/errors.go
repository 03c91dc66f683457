package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// WriteJSON writes v as the JSON body with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":"the response could not be encoded","code":""}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// WriteError answers r in OpenWhisk's error shape, with the request's id as
// the code. msg is a sentence a person can act on; it must not carry secrets.
func WriteError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	WriteJSON(w, status, entity.Error{Error: msg, Code: RequestID(r.Context())})
}
