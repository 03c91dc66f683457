package couch

import (
	"bytes"
	"encoding/json"
	"fmt"

	kivik "github.com/go-kivik/kivik/v4"
)

// Seq is a database update sequence, kept opaque: CouchDB 3 sends strings
// such as "12-g1AAAA…", pouchdb-server (and CouchDB 1.x) sends integers. A
// Seq is only ever handed back to the server (as since=) or compared for
// equality, never parsed or ordered. The zero Seq means "from the start".
//
// Seq unmarshals from a JSON string, number or null, and marshals to a JSON
// string, so it can be stored in checkpoint documents.
type Seq string

// ParseSeq converts a raw JSON sequence value to a Seq.
func ParseSeq(raw json.RawMessage) (Seq, error) {
	var s Seq
	if err := s.UnmarshalJSON(raw); err != nil {
		return "", err
	}
	return s, nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (s *Seq) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return fmt.Errorf("couch: sequence: empty JSON value")
	case bytes.Equal(b, []byte("null")):
		*s = ""
	case b[0] == '"':
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return fmt.Errorf("couch: sequence: %w", err)
		}
		*s = Seq(str)
	case b[0] == '-' || ('0' <= b[0] && b[0] <= '9'):
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("couch: sequence: %w", err)
		}
		*s = Seq(n)
	default:
		return fmt.Errorf("couch: sequence must be a JSON string or number, got %.40q", b)
	}
	return nil
}

// MarshalJSON implements json.Marshaler: always a JSON string.
func (s Seq) MarshalJSON() ([]byte, error) { return json.Marshal(string(s)) }

// String returns the sequence as the server spelled it.
func (s Seq) String() string { return string(s) }

// IsZero reports whether s is the zero Seq.
func (s Seq) IsZero() bool { return s == "" }

// Since returns the kivik option that resumes a change feed after s; the
// zero Seq starts from the beginning.
func (s Seq) Since() kivik.Option {
	if s.IsZero() {
		return kivik.Param("since", "0")
	}
	return kivik.Param("since", string(s))
}
