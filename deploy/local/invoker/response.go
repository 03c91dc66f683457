package invoker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/fnmgr/fnmgr/couch/entity"
)

// errorResponse is ActivationResponse.applicationError/developerError/
// whiskError: {"error": text} without a size.
func errorResponse(code int, text string) entity.ActivationResponse {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as spray-json writes it
	_ = enc.Encode(map[string]string{"error": text})
	return entity.ActivationResponse{StatusCode: code, Result: bytes.TrimSuffix(b.Bytes(), []byte("\n"))}
}

// Texts of the developer errors whose result the action's container
// produced (OpenWhisk records their size); every other developer error is the
// invoker's own (timeout, memory, exit) and has no size.
var producedErrorPrefixes = []string{
	"An error has occurred: ",
	"The action did not produce a valid JSON or JSON Array response: ",
	"The action failed during initialization: ",
}

const truncatedPrefix = "The action produced a response that exceeded the allowed length: "

// normalizeResponse is ActivationResponse.processRunResponseContent applied to
// what the runner classified: an application error keeps only the result's
// error field, a result over MaxResultBytes becomes the truncation error, and
// size (the length of the response the action produced) is set for results
// the action produced, left out for errors the invoker made up.
func normalizeResponse(code int, result json.RawMessage) entity.ActivationResponse {
	if len(result) == 0 {
		result = json.RawMessage(`{}`)
	}
	size := len(result)
	switch code {
	case entity.StatusSuccess:
		if size > MaxResultBytes {
			return truncatedResponse(result, size)
		}
		return entity.ActivationResponse{StatusCode: code, Result: result, Size: &size}
	case entity.StatusApplicationError:
		if n, ok := truncatedSize(result); ok {
			return entity.ActivationResponse{StatusCode: code, Result: result, Size: &n}
		}
		if size > MaxResultBytes {
			return truncatedResponse(result, size)
		}
		return entity.ActivationResponse{StatusCode: code, Result: errorFieldOnly(result), Size: &size}
	case entity.StatusDeveloperError:
		r := entity.ActivationResponse{StatusCode: code, Result: result}
		if text := errorText(result); hasAnyPrefix(text, producedErrorPrefixes) && !strings.Contains(text, "uncompressing") {
			r.Size = &size
		}
		return r
	default:
		return entity.ActivationResponse{StatusCode: entity.StatusInternalError, Result: result}
	}
}

// errorFieldOnly is ActivationResponse.applicationError(error): {"error": e}.
func errorFieldOnly(result json.RawMessage) json.RawMessage {
	var fields map[string]json.RawMessage
	if json.Unmarshal(result, &fields) != nil {
		return result
	}
	e, ok := fields["error"]
	if !ok || len(fields) == 1 {
		return result
	}
	b, err := json.Marshal(map[string]json.RawMessage{"error": e})
	if err != nil {
		return result
	}
	return b
}

// errorText returns result.error when it is a string.
func errorText(result json.RawMessage) string {
	var r struct {
		Error any `json:"error"`
	}
	if json.Unmarshal(result, &r) != nil {
		return ""
	}
	s, _ := r.Error.(string)
	return s
}

// truncatedSize recognizes a truncation error the runner already made and
// returns the response length it quotes.
func truncatedSize(result json.RawMessage) (int, bool) {
	text, ok := strings.CutPrefix(errorText(result), truncatedPrefix)
	if !ok {
		return 0, false
	}
	var n, limit int
	if _, err := fmt.Sscanf(text, "%d > %d bytes.", &n, &limit); err != nil {
		return 0, false
	}
	return n, true
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// truncatedResponse is OpenWhisk's answer to a response over the limit: an
// application error quoting the first MaxResultBytes of it.
func truncatedResponse(body []byte, size int) entity.ActivationResponse {
	trunk := body
	if len(trunk) > MaxResultBytes {
		trunk = trunk[:MaxResultBytes]
	}
	text := string(trunk)
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	r := errorResponse(entity.StatusApplicationError, fmt.Sprintf(
		truncatedPrefix+"%d > %d bytes. The truncated response was: %s", size, MaxResultBytes, text))
	r.Size = &size
	return r
}
