package whiskdb

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fnmgr/fnmgr/couch/entity"
)

func TestExternalAttachment(t *testing.T) {
	for _, c := range []struct {
		name string
		want bool
	}{
		{"s3:3f2a1b9c-0d4e-4f5a-8b6c-7d8e9f0a1b2c", true}, // S3AttachmentStore
		{"az:3f2a1b9c-0d4e-4f5a-8b6c-7d8e9f0a1b2c", true}, // AzureBlobAttachmentStore
		{"mem:ZnVuY3Rpb24=", false},
		{"couch:3f2a1b9c-0d4e-4f5a-8b6c-7d8e9f0a1b2c", false},
		{"jarfile", false}, // a legacy bare CouchDB attachment
		{"codefile.js", false},
		{"a file:with colon", false},
		{":nothing", false},
	} {
		if got := ExternalAttachment(c.name); got != c.want {
			t.Errorf("ExternalAttachment(%q) = %v, want %v", c.name, got, c.want)
		}
	}
}

// fakeExternal is an attachment store read through the controller.
type fakeExternal struct {
	code  []byte
	err   error
	calls int
}

func (f *fakeExternal) ExternalCode(context.Context, entity.Action) ([]byte, error) {
	f.calls++
	return f.code, f.err
}

// TestActionCodeOutsideCouchDB: code in an S3 or Azure attachment store is
// read from the ExternalCode source, never as a CouchDB attachment (the
// Store here has no database: touching it would panic), checked against
// the document's digest, and a failure is ErrExternalCode, not the
// ErrNotFound that reads as "deleted since".
func TestActionCodeOutsideCouchDB(t *testing.T) {
	code := []byte("function main(){ return {big: true} }")
	action := func(name, digest string) entity.Action {
		return entity.Action{DocMeta: entity.DocMeta{ID: "guest/big", Rev: "3-abc"}, Namespace: "guest", Name: "big",
			Exec: entity.Exec{Kind: "nodejs:20", Code: &entity.Code{Ref: &entity.CodeRef{AttachmentName: name,
				AttachmentType: entity.TextContentType, Digest: digest}}}}
	}
	for _, c := range []struct {
		name     string
		action   entity.Action
		ext      *fakeExternal
		want     []byte
		wantErr  bool
		wantText string
	}{
		{"s3 read through the source", action("s3:0a1b", entity.Digest(code)), &fakeExternal{code: code}, code, false, ""},
		{"az read through the source", action("az:0a1b", entity.Digest(code)), &fakeExternal{code: code}, code, false, ""},
		{"no digest recorded", action("s3:0a1b", ""), &fakeExternal{code: code}, code, false, ""},
		{"another revision's code", action("s3:0a1b", entity.Digest([]byte("older"))), &fakeExternal{code: code}, nil, true, "digest"},
		{"the source fails", action("s3:0a1b", entity.Digest(code)), &fakeExternal{err: errors.New("controller: 500")}, nil, true, "controller: 500"},
		{"no source configured", action("az:0a1b", entity.Digest(code)), nil, nil, true, `"az" attachment store`},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := Options{}
			if c.ext != nil {
				o.External = c.ext
			}
			got, err := NewWith(nil, o).ActionCode(context.Background(), c.action)
			if c.wantErr {
				if !errors.Is(err, ErrExternalCode) || errors.Is(err, ErrNotFound) {
					t.Fatalf("err = %v, want ErrExternalCode (and not ErrNotFound)", err)
				}
				if !contains(err.Error(), c.wantText) || !contains(err.Error(), "guest/big") {
					t.Fatalf("err = %q, want it to name the action and say %q", err, c.wantText)
				}
				return
			}
			if err != nil || string(got) != string(c.want) {
				t.Fatalf("ActionCode = %q, %v; want %q", got, err, c.want)
			}
			if c.ext.calls != 1 {
				t.Fatalf("the source was asked %d times", c.ext.calls)
			}
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
