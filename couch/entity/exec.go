package entity

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrMalformed marks a document whose content cannot be read (code that
// does not decode, say): retrying cannot help.
var ErrMalformed = errors.New("entity: malformed document")

// Exec kinds that are not runtimes.
const (
	KindSequence = "sequence"
	KindBlackbox = "blackbox"
)

// MaxInlineSize is whisk.db.max-inline-size: code smaller than this is kept
// inside the attachment name ("mem:<base64url>") instead of a real
// attachment.
const MaxInlineSize = 16 * 1024

// Attachment name prefixes OpenWhisk writes into exec.code.attachmentName.
const (
	MemPrefix   = "mem:"
	CouchPrefix = "couch:"
)

// Content types of attached code.
const (
	TextContentType   = "text/plain; charset=UTF-8"
	BinaryContentType = "application/octet-stream"
)

// CodeRef is the reference to attached code as stored in CouchDB.
type CodeRef struct {
	AttachmentName string `json:"attachmentName"`
	AttachmentType string `json:"attachmentType"`
	Length         *int64 `json:"length,omitempty"`
	Digest         string `json:"digest,omitempty"`
}

// Code is exec.code: a plain string (legacy inline form, and always in the
// REST API) or an attachment reference (how stock runtimes store it).
type Code struct {
	Inline *string
	Ref    *CodeRef
}

// InlineCode returns Code holding s as a plain string.
func InlineCode(s string) *Code { return &Code{Inline: &s} }

// MarshalJSON writes the string or the reference.
func (c Code) MarshalJSON() ([]byte, error) {
	switch {
	case c.Ref != nil:
		return json.Marshal(c.Ref)
	case c.Inline != nil:
		return json.Marshal(*c.Inline)
	default:
		return []byte("null"), nil
	}
}

// UnmarshalJSON accepts either form.
func (c *Code) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("entity: exec code: %w", err)
		}
		c.Inline, c.Ref = &s, nil
		return nil
	}
	var r CodeRef
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("entity: exec code reference: %w", err)
	}
	c.Ref, c.Inline = &r, nil
	return nil
}

// Exec is an action's executable: a runtime with code, a blackbox image, or
// a sequence of components.
type Exec struct {
	Kind       string   `json:"kind"`
	Code       *Code    `json:"code,omitempty"`
	Image      string   `json:"image,omitempty"`
	Init       string   `json:"init,omitempty"`
	Main       string   `json:"main,omitempty"`
	Components []string `json:"components,omitempty"`
	// Binary is written for every kind but sequence, as OpenWhisk does.
	Binary bool `json:"-"`
}

type execJSON struct {
	Kind       string   `json:"kind"`
	Code       *Code    `json:"code,omitempty"`
	Image      string   `json:"image,omitempty"`
	Init       string   `json:"init,omitempty"`
	Main       string   `json:"main,omitempty"`
	Components []string `json:"components,omitempty"`
	Binary     *bool    `json:"binary,omitempty"`
}

// MarshalJSON writes binary except for sequences.
func (e Exec) MarshalJSON() ([]byte, error) {
	j := execJSON{Kind: e.Kind, Code: e.Code, Image: e.Image, Init: e.Init, Main: e.Main, Components: e.Components}
	if e.Kind != KindSequence {
		b := e.Binary
		j.Binary = &b
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads every exec form.
func (e *Exec) UnmarshalJSON(b []byte) error {
	var j execJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("entity: exec: %w", err)
	}
	*e = Exec{Kind: j.Kind, Code: j.Code, Image: j.Image, Init: j.Init, Main: j.Main, Components: j.Components}
	if j.Binary != nil {
		e.Binary = *j.Binary
	}
	return nil
}

// Family is the runtime family of a kind ("nodejs" for "nodejs:20").
func Family(kind string) string {
	f, _, _ := strings.Cut(kind, ":")
	return f
}

var base64Pattern = regexp.MustCompile(`^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$`)

// IsBinaryCode is OpenWhisk's Exec.isBinaryCode: code that is a base64
// string (a zip or jar) is binary.
func IsBinaryCode(code string) bool {
	t := strings.TrimSpace(code)
	return len(t) > 0 && len(t)%4 == 0 && base64Pattern.MatchString(t)
}

// Digest is the "sha256-<hex>" digest OpenWhisk records for inlined code.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256-" + hex.EncodeToString(sum[:])
}

// MemName encodes code bytes into a "mem:" attachment name.
func MemName(b []byte) string {
	return MemPrefix + base64.URLEncoding.EncodeToString(b)
}

// DecodeMemName returns the code bytes held in a "mem:" attachment name.
func DecodeMemName(name string) ([]byte, error) {
	enc, ok := strings.CutPrefix(name, MemPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: %q is not a mem: attachment name", ErrMalformed, truncate(name, 40))
	}
	b, err := base64.URLEncoding.DecodeString(enc)
	if err != nil {
		// Be lenient about padding, as Java's decoder is.
		if b2, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(enc, "=")); err2 == nil {
			return b2, nil
		}
		return nil, fmt.Errorf("%w: decode mem: attachment: %w", ErrMalformed, err)
	}
	return b, nil
}

// CouchAttachmentID returns the CouchDB attachment id a "couch:<uuid>" name
// refers to; a bare name (legacy "codefile", or a bare uuid) is returned as is.
func CouchAttachmentID(name string) string {
	if id, ok := strings.CutPrefix(name, CouchPrefix); ok {
		return id
	}
	return name
}

// StoredCode converts the code a REST client sent (text, or base64 when
// binary) into the bytes OpenWhisk stores and their content type.
func StoredCode(code string, binary bool) ([]byte, string, error) {
	if !binary {
		return []byte(code), TextContentType, nil
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(code))
	if err != nil {
		return nil, "", fmt.Errorf("%w: binary code is not base64: %w", ErrMalformed, err)
	}
	return b, BinaryContentType, nil
}

// RESTCode converts stored code bytes back into the string the REST API
// returns (base64 again when binary).
func RESTCode(b []byte, binary bool) string {
	if binary {
		return base64.StdEncoding.EncodeToString(b)
	}
	return string(b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
