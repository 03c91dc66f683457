// Package whiskdb reads and writes OpenWhisk actions in the whisks database
// exactly as OpenWhisk's CouchDbRestStore does, code attachments included:
// code under 16 KiB lives inside the attachment name ("mem:<base64url>"),
// larger code in a real CouchDB attachment referenced as "couch:<uuid>",
// written after the document (so such a save makes two revisions).
// A deployment whose AttachmentStore is S3 or Azure Blob keeps large code
// outside CouchDB ("s3:<uuid>", "az:<uuid>"): a Store reads such code only
// through an ExternalCode source (the controller's API), never as a CouchDB
// attachment.
//
// The controller and invoker of the local stack and the fnmgr sidecar use it,
// so the sidecar meets the documents it will meet in production. A Store is
// safe for concurrent use.
package whiskdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-kivik/kivik/v4"
	"github.com/google/uuid"

	"github.com/fnmgr/fnmgr/couch"
	"github.com/fnmgr/fnmgr/couch/entity"
)

// Sentinel errors, wrapped with %w: CouchDB's own (couch.Classify), so a
// caller tests one vocabulary whichever store it called.
var (
	ErrNotFound = couch.ErrNotFound
	ErrConflict = couch.ErrConflict
	// ErrExternalCode: the action's code is kept outside CouchDB (an S3 or
	// Azure Blob AttachmentStore) and could not be read from its
	// ExternalCode source (none set, or it failed). Not ErrNotFound: the
	// action exists.
	ErrExternalCode = errors.New("whiskdb: the action's code is kept outside CouchDB and could not be read")
)

// Schemes of OpenWhisk's attachment stores outside CouchDB: the attachment
// name is "<scheme>:<uuid>" (common/scala/.../core/database/
// AttachmentSupport.scala uriFrom; s3/S3AttachmentStore.scala scheme "s3",
// azblob/AzureBlobAttachmentStore.scala scheme "az").
const (
	S3Prefix    = "s3:"
	AzurePrefix = "az:"
)

// ExternalAttachment reports whether an attachment name refers to code kept
// outside CouchDB (a scheme other than mem: and couch:).
func ExternalAttachment(name string) bool {
	scheme, _, ok := strings.Cut(name, ":")
	if !ok || scheme == "" || scheme+":" == entity.MemPrefix || scheme+":" == entity.CouchPrefix {
		return false
	}
	for _, r := range scheme {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false // a legacy bare CouchDB attachment name
		}
	}
	return true
}

// ExternalCode reads the code of an action kept outside CouchDB, for
// example through the controller's API (GET …/actions/{name}?code=true).
// It returns the code's stored bytes (binary code decoded), and must be
// safe for concurrent use. whiskdb checks the bytes against the
// document's digest where it has one.
type ExternalCode interface {
	ExternalCode(ctx context.Context, a entity.Action) ([]byte, error)
}

// Options configure a Store.
type Options struct {
	// Batched shares reads of latest revisions and document writes with
	// concurrent callers' (see NewBatched).
	Batched bool
	// External reads code kept outside CouchDB; without it such code is an
	// ErrExternalCode.
	External ExternalCode
}

// Store is the whisks database.
type Store struct {
	db  *kivik.DB
	b   *couch.Batcher // nil: every call is its own request
	ext ExternalCode
}

// New returns a Store over the whisks database db.
func New(db *kivik.DB) *Store { return &Store{db: db} }

// NewWith returns a Store over the whisks database db configured by o.
func NewWith(db *kivik.DB, o Options) *Store {
	s := &Store{db: db, ext: o.External}
	if o.Batched {
		s.b = couch.NewBatcher(db, couch.BatcherOptions{})
	}
	return s
}

// NewBatched returns a Store whose reads of latest revisions and whose
// document writes share requests with concurrent callers' (couch.Batcher):
// for a client making many small reads and writes at once (fnmgr), not for
// a controller's request path.
func NewBatched(db *kivik.DB) *Store {
	return &Store{db: db, b: couch.NewBatcher(db, couch.BatcherOptions{})}
}

// DB returns the underlying database.
func (s *Store) DB() *kivik.DB { return s.db }

// Classify names op in a CouchDB error and puts its class (ErrNotFound,
// ErrConflict…) in the chain with couch.Classify, keeping the cause.
func Classify(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("whiskdb: %s: %w", op, couch.Classify(err))
}

// Get reads document docid (at rev when rev is not "") into v and returns
// its revision.
func (s *Store) Get(ctx context.Context, docid, rev string, v any) (string, error) {
	if rev == "" && s.b != nil {
		var raw json.RawMessage
		if err := s.b.Get(ctx, docid, &raw); err != nil {
			return "", Classify("get "+docid, err)
		}
		var meta struct {
			Rev string `json:"_rev"`
		}
		if err := json.Unmarshal(raw, &meta); err != nil {
			return "", fmt.Errorf("whiskdb: get %s: %w", docid, err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			return "", fmt.Errorf("whiskdb: get %s: %w", docid, err)
		}
		return meta.Rev, nil
	}
	var opts []kivik.Option
	if rev != "" {
		opts = append(opts, kivik.Rev(rev))
	}
	doc := s.db.Get(ctx, docid, opts...)
	if err := doc.ScanDoc(v); err != nil {
		return "", Classify("get "+docid, err)
	}
	r, err := doc.Rev()
	if err != nil {
		return "", Classify("get "+docid, err)
	}
	return r, nil
}

// GetAction reads an action document (at rev when rev is not "").
func (s *Store) GetAction(ctx context.Context, docid, rev string) (entity.Action, error) {
	var a entity.Action
	if _, err := s.Get(ctx, docid, rev, &a); err != nil {
		return entity.Action{}, err
	}
	if a.EntityType != "" && a.EntityType != entity.TypeAction {
		return entity.Action{}, fmt.Errorf("whiskdb: %s is a %s: %w", docid, a.EntityType, ErrNotFound)
	}
	return a, nil
}

// ActionCode returns the stored bytes of an action's code: decoded from a
// "mem:" name, fetched from a "couch:" (or legacy bare) attachment, read
// from the ExternalCode source for "s3:" and "az:" names, or the legacy
// inline string. Sequences and code-less blackbox actions have none.
func (s *Store) ActionCode(ctx context.Context, a entity.Action) ([]byte, error) {
	c := a.Exec.Code
	switch {
	case c == nil:
		return nil, nil
	case c.Inline != nil:
		b, _, err := entity.StoredCode(*c.Inline, a.Exec.Binary)
		if err != nil {
			return []byte(*c.Inline), nil
		}
		return b, nil
	case c.Ref != nil && strings.HasPrefix(c.Ref.AttachmentName, entity.MemPrefix):
		return entity.DecodeMemName(c.Ref.AttachmentName)
	case c.Ref != nil && ExternalAttachment(c.Ref.AttachmentName):
		return s.external(ctx, a)
	case c.Ref != nil:
		return s.attachment(ctx, a.ID, a.Rev, entity.CouchAttachmentID(c.Ref.AttachmentName))
	}
	return nil, nil
}

// external reads code kept outside CouchDB through s.ext, and checks it
// against the digest OpenWhisk recorded, so that code of another revision
// (the controller serves the latest) is never taken for a's.
func (s *Store) external(ctx context.Context, a entity.Action) ([]byte, error) {
	ref := a.Exec.Code.Ref
	scheme, _, _ := strings.Cut(ref.AttachmentName, ":")
	if s.ext == nil {
		return nil, fmt.Errorf("%w: %s keeps its code in a %q attachment store and no way to read it is configured", ErrExternalCode, a.ID, scheme)
	}
	b, err := s.ext.ExternalCode(ctx, a)
	if err != nil {
		return nil, fmt.Errorf("%w: %s (%q attachment store): %w", ErrExternalCode, a.ID, scheme, err)
	}
	if ref.Digest != "" && entity.Digest(b) != ref.Digest {
		return nil, fmt.Errorf("%w: %s (%q attachment store): the code read has digest %s, revision %s has %s (changed since?)",
			ErrExternalCode, a.ID, scheme, entity.Digest(b), a.Rev, ref.Digest)
	}
	return b, nil
}

func (s *Store) attachment(ctx context.Context, docid, rev, name string) ([]byte, error) {
	var opts []kivik.Option
	if rev != "" {
		opts = append(opts, kivik.Rev(rev))
	}
	att, err := s.db.GetAttachment(ctx, docid, name, opts...)
	if err != nil {
		return nil, Classify("get attachment of "+docid, err)
	}
	defer att.Content.Close()
	b, err := io.ReadAll(att.Content)
	if err != nil {
		return nil, fmt.Errorf("whiskdb: read attachment of %s: %w", docid, err)
	}
	return b, nil
}

// PutAction writes a (created when a.Rev is empty, else updated at a.Rev)
// with code stored as OpenWhisk stores it. code is nil for sequences and
// code-less blackbox actions; contentType is entity.TextContentType or
// entity.BinaryContentType. It returns the document as stored, with its
// final revision.
func (s *Store) PutAction(ctx context.Context, a entity.Action, code []byte, contentType string) (entity.Action, error) {
	if a.ID == "" {
		a.ID = a.FQN()
	}
	a.EntityType = entity.TypeAction
	a.Attachments = nil
	a.Deleted = false
	var attName string
	if code != nil {
		if contentType == "" {
			contentType = entity.TextContentType
		}
		if a.Exec.Code == nil {
			a.Exec.Code = &entity.Code{}
		}
		if len(code) < entity.MaxInlineSize {
			n := int64(len(code))
			a.Exec.Code.Inline = nil
			a.Exec.Code.Ref = &entity.CodeRef{AttachmentName: entity.MemName(code), AttachmentType: contentType,
				Length: &n, Digest: entity.Digest(code)}
		} else {
			attName = uuid.NewString()
			a.Exec.Code.Inline = nil
			a.Exec.Code.Ref = &entity.CodeRef{AttachmentName: entity.CouchPrefix + attName, AttachmentType: contentType}
		}
	}
	rev, err := s.put(ctx, a.ID, a)
	if err != nil {
		return entity.Action{}, Classify("put "+a.ID, err)
	}
	a.Rev = rev
	if attName == "" {
		return a, nil
	}
	rev, err = s.db.PutAttachment(ctx, a.ID, &kivik.Attachment{
		Filename:    attName,
		ContentType: contentType,
		Content:     io.NopCloser(bytes.NewReader(code)),
	}, kivik.Rev(a.Rev))
	if err != nil {
		return entity.Action{}, Classify("put attachment of "+a.ID, err)
	}
	a.Rev = rev
	return a, nil
}

// Put writes any entity document v under docid (an update when v carries a
// _rev) and returns the new revision.
func (s *Store) Put(ctx context.Context, docid string, v any) (string, error) {
	rev, err := s.put(ctx, docid, v)
	if err != nil {
		return "", Classify("put "+docid, err)
	}
	return rev, nil
}

func (s *Store) put(ctx context.Context, docid string, v any) (string, error) {
	if s.b != nil {
		return s.b.Put(ctx, docid, v)
	}
	return s.db.Put(ctx, docid, v)
}

// DeleteDoc deletes document docid at rev.
func (s *Store) DeleteDoc(ctx context.Context, docid, rev string) error {
	if _, err := s.db.Delete(ctx, docid, rev); err != nil {
		return Classify("delete "+docid, err)
	}
	return nil
}

// RevHistory returns the revisions of docid up to rev, oldest first, as
// CouchDB's revs=true lists them. Older revisions may have been compacted
// away: reading one then gives ErrNotFound.
func (s *Store) RevHistory(ctx context.Context, docid, rev string) ([]string, error) {
	var doc struct {
		Revisions struct {
			Start int      `json:"start"`
			IDs   []string `json:"ids"`
		} `json:"_revisions"`
	}
	if err := s.db.Get(ctx, docid, kivik.Params(map[string]any{"rev": rev, "revs": true})).ScanDoc(&doc); err != nil {
		return nil, Classify("revision history of "+docid, err)
	}
	ids := doc.Revisions.IDs
	out := make([]string, len(ids))
	for i, id := range ids {
		out[len(ids)-1-i] = fmt.Sprintf("%d-%s", doc.Revisions.Start-i, id)
	}
	return out, nil
}
