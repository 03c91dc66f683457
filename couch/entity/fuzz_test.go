package entity_test

import (
	"bytes"
	"testing"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/tests/fuzzcheck"
)

// The fuzz targets below decode whisks and activations documents as the
// change feed hands them to fnmgr. Their seed corpora
// (testdata/fuzz/<FuzzName>/) hold the contract's documents, edge cases of
// exec.code's two forms and what earlier fuzzing found.

// FuzzAction: an action document, with exec in every form (inline code,
// mem: and couch: attachment references, sequences, blackbox).
func FuzzAction(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		a, ok := fuzzcheck.Stable[entity.Action](t, data, nil)
		if !ok {
			return
		}
		if _, err := entity.Kind(data); err != nil {
			t.Fatalf("Kind refused a document Action decoded: %v", err)
		}
		// What fnmgr does with a decoded action must not panic either.
		_ = a.Clone()
		_ = a.Summary()
		_ = a.View(a.Exec)
		if c := a.Exec.Code; c != nil && c.Ref != nil {
			checkAttachmentName(t, c.Ref.AttachmentName)
		}
	})
}

// FuzzCode: exec.code alone, a string or an attachment reference.
func FuzzCode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, ok := fuzzcheck.Stable[entity.Code](t, data, nil)
		if !ok {
			return
		}
		if (c.Inline == nil) == (c.Ref == nil) {
			t.Fatalf("decoded code is neither or both of inline and reference: %s", data)
		}
		if c.Inline != nil {
			_ = entity.IsBinaryCode(*c.Inline)
			if b, _, err := entity.StoredCode(*c.Inline, true); err == nil {
				if got := entity.RESTCode(b, true); !bytes.Equal(mustStored(t, got), b) {
					t.Fatalf("binary code does not survive StoredCode→RESTCode")
				}
			}
		}
	})
}

func mustStored(t *testing.T, s string) []byte {
	t.Helper()
	b, _, err := entity.StoredCode(s, true)
	if err != nil {
		t.Fatalf("RESTCode wrote base64 StoredCode cannot read: %v", err)
	}
	return b
}

// checkAttachmentName: a mem: name either decodes or is an error, and
// bytes encoded with MemName decode to themselves.
func checkAttachmentName(t *testing.T, name string) {
	t.Helper()
	_ = entity.CouchAttachmentID(name)
	b, err := entity.DecodeMemName(name)
	if err != nil {
		return
	}
	back, err := entity.DecodeMemName(entity.MemName(b))
	if err != nil || !bytes.Equal(back, b) {
		t.Fatalf("MemName of decoded bytes does not decode back: %v", err)
	}
}

// FuzzMemName: any bytes survive MemName→DecodeMemName; any name either
// decodes or is an error.
func FuzzMemName(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		back, err := entity.DecodeMemName(entity.MemName(data))
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("MemName(%q) decodes to %q, %v", data, back, err)
		}
		checkAttachmentName(t, string(data))
		checkAttachmentName(t, entity.MemPrefix+string(data))
	})
}

// FuzzActivation: an activation document (also the body of a Kafka
// result message).
func FuzzActivation(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		a, ok := fuzzcheck.Stable[entity.Activation](t, data, nil)
		if !ok {
			return
		}
		_ = a.View()
		_ = a.Summary()
		_ = a.Response.REST()
	})
}
